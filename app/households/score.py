"""The need score that explains itself (会说话的核对报告).

A household's score runs from -2 to 2 (higher: more need). Each recorded factor adds or
takes away a point and says why in a sentence staff can read; the sum is clamped. Pure:
takes plain facts, returns the score and the sentences (lazy strings, shown in the
reader's language). Never shown outside staff pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from app.households.models import LifeEvent

SCORE_MIN, SCORE_MAX = -2, 2
DEPENDANT_CHILD_UNDER = 16
DEPENDANT_ELDER_FROM = 70


@dataclass(frozen=True)
class MemberFacts:
    age: int
    disabled: bool
    seriously_ill: bool
    works: bool


@dataclass(frozen=True)
class ScoreFacts:
    income_per_head_yuan: int | None
    dibao_line_yuan: int | None
    savings_yuan: int | None
    has_car: bool
    has_extra_house: bool
    members: list[MemberFacts] = field(default_factory=list)
    recent_events: list[LifeEvent] = field(default_factory=list)  # in the last 90 days
    helped_last_12_months: int = 0


@dataclass(frozen=True)
class Reason:
    points: int
    text: Any  # a lazy string

    def __str__(self) -> str:
        return str(self.text)


@dataclass(frozen=True)
class Score:
    value: int
    reasons: list[Reason]

    @property
    def sentence(self) -> str:
        """One line, as the report reads: "收入低于低保线42%，家中有重度残疾成员…"."""
        return str(_l(", ")).join(str(r) for r in self.reasons)


_EVENT_WORDS = {
    LifeEvent.ILLNESS: _l("serious illness"),
    LifeEvent.DISASTER: _l("disaster"),
    LifeEvent.DEATH: _l("a death in the family"),
    LifeEvent.INCOME_DROP: _l("a sudden drop in income"),
}


def explain(facts: ScoreFacts) -> Score:
    """The score and its reasons, strongest first."""
    reasons: list[Reason] = []
    line = facts.dibao_line_yuan
    income = facts.income_per_head_yuan
    if income is not None and line:
        share = round((line - income) * 100 / line)
        if income < line / 2:
            reasons.append(Reason(2, _l("income %(pct)s%% below the subsistence line", pct=share)))
        elif income < line:
            reasons.append(Reason(1, _l("income %(pct)s%% below the subsistence line", pct=share)))
        elif income >= 2 * line:
            times = f"{income / line:.1f}"
            reasons.append(
                Reason(-1, _l("income %(times)s times the subsistence line", times=times))
            )
    elif income is None:
        reasons.append(Reason(0, _l("income not recorded")))
    if facts.has_car or facts.has_extra_house:
        reasons.append(Reason(-1, _l("owns a car or more than one home")))
    if line and facts.savings_yuan is not None:
        people = max(1, len(facts.members))
        if facts.savings_yuan > 12 * line * people:
            reasons.append(Reason(-1, _l("savings above a year of the subsistence line")))
    if any(m.disabled for m in facts.members):
        reasons.append(Reason(1, _l("a member with a severe disability")))
    if any(m.seriously_ill for m in facts.members):
        reasons.append(Reason(1, _l("a member with a serious illness")))
    dependants = sum(
        1
        for m in facts.members
        if not m.works and (m.age < DEPENDANT_CHILD_UNDER or m.age >= DEPENDANT_ELDER_FROM)
    )
    earners = sum(1 for m in facts.members if m.works)
    if dependants >= 2 or (dependants and not earners):
        reasons.append(Reason(1, _l("%(n)s dependants, %(w)s working", n=dependants, w=earners)))
    if facts.recent_events:
        words = str(_l(", ")).join(str(_EVENT_WORDS[e]) for e in dict.fromkeys(facts.recent_events))
        reasons.append(Reason(1, _l("in the last 3 months: %(events)s", events=words)))
    if facts.helped_last_12_months >= 2:
        reasons.append(
            Reason(
                -1,
                _l("helped %(n)s times in the last 12 months", n=facts.helped_last_12_months),
            )
        )
    elif facts.helped_last_12_months == 0:
        reasons.append(Reason(0, _l("no help received in the last 12 months")))
    total = sum(r.points for r in reasons)
    reasons.sort(key=lambda r: -abs(r.points))
    return Score(value=max(SCORE_MIN, min(SCORE_MAX, total)), reasons=reasons)
