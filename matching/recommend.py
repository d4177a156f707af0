"""Recommendations with their reasons: the best open needs for a team or company, and
the best verified teams and companies for a caseworker's need.

Both directions use the same two steps on a (helper, need) pair:

1. **Hard filters** (``screen``): the helper takes this kind of need; the need is within
   the helper's own radius of its base; a repair's required skills are all among the
   helper's *verified* skills; farm help has open places on one of the helper's
   weekdays. A pair that fails any of these is never shown, whatever its score.
2. **An explained score** (``score``) out of 100, the sum of four contributions the page
   shows one by one:

   ============  =====  ====================================================
   distance       40    ``40 * (1 - km / radius)``: nearer is better
   skills         20    the repair needs verified skills the helper has
   urgency        25    ``25 * rank / 3``: low 0, normal 8.3, high 16.7, critical 25
   days waiting   15    ``15 * min(days since publication, 60) / 60``
   ============  =====  ====================================================

Contributions are rounded to one decimal and the total is their sum, so what the page
shows adds up. Ties break on the household's need score (needs only), then distance, then id: the
same data always gives the same list.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from matching.geo import Point, within_km

ALL_WEEKDAYS = frozenset(range(1, 8))
MICRO_WISH, FARM_HELP, REPAIR = "micro_wish", "farm_help", "repair"


class Exclusion(enum.Enum):
    """Why a pair was filtered out."""

    KIND = "kind"  # the helper does not take this kind of need
    DISTANCE = "distance"  # outside the helper's radius
    SKILLS = "skills"  # a required skill the helper has not had verified
    DAYS = "days"  # farm help with no open place on the helper's weekdays


@dataclass(frozen=True)
class Weights:
    distance: float = 40.0
    skills: float = 20.0
    urgency: float = 25.0
    waiting: float = 15.0
    waiting_cap_days: int = 60


DEFAULT_WEIGHTS = Weights()
MAX_URGENCY_RANK = 3  # low, normal, high, critical


@dataclass(frozen=True)
class Helper:
    """A verified volunteer team or company, as matching sees it."""

    id: int
    name: str
    kind: str  # "team" | "company"
    base: Point
    radius_km: float
    need_kinds: frozenset[str]  # the kinds of need it may take
    skills: frozenset[str] = frozenset()  # verified skills only
    weekdays: frozenset[int] = ALL_WEEKDAYS  # ISO: 1 = Monday
    size: int | None = None  # people it can bring


@dataclass(frozen=True)
class OpenNeed:
    """An open need's public facts: where it is (approximately), how urgent, since when."""

    id: int
    kind: str
    title: str
    location: Point
    urgency: int  # 0 = low .. 3 = critical
    published_on: date
    skills: frozenset[str] = frozenset()  # required skills (repairs)
    # Farm help: open places by day, future shifts only.
    open_places: Mapping[date, int] = field(default_factory=lambda: MappingProxyType({}))
    # The household's need score (-2..2, private): it only breaks ties, it is never shown.
    priority: int = 0


@dataclass(frozen=True)
class Factor:
    """One contribution to a score, with the measure behind it."""

    name: str  # "distance" | "skills" | "urgency" | "waiting"
    points: float
    max_points: float
    measure: float  # km, skills matched, urgency rank, days waiting


@dataclass(frozen=True)
class Match:
    helper_id: int
    need_id: int
    total: float
    distance_km: float
    factors: tuple[Factor, ...]
    # Farm help: the days with open places the helper can come, and how many of its people
    # the busiest of those days could take.
    days: tuple[date, ...] = ()
    places: int | None = None

    def factor(self, name: str) -> Factor:
        return next(f for f in self.factors if f.name == name)


@dataclass(frozen=True)
class Recommendations:
    matches: tuple[Match, ...]
    excluded: Mapping[Exclusion, int]  # how many candidates each filter removed

    def __len__(self) -> int:
        return len(self.matches)


@dataclass(frozen=True)
class Screen:
    """The outcome of the hard filters for one pair."""

    exclusion: Exclusion | None
    distance_km: float | None = None
    days: tuple[date, ...] = ()

    @property
    def passed(self) -> bool:
        return self.exclusion is None


def screen(helper: Helper, need: OpenNeed) -> Screen:
    """Apply the hard filters (cheapest first; the distance only when the rest pass)."""
    if need.kind not in helper.need_kinds:
        return Screen(Exclusion.KIND)
    if need.kind == REPAIR and not need.skills <= helper.skills:
        return Screen(Exclusion.SKILLS)
    days: tuple[date, ...] = ()
    if need.kind == FARM_HELP:
        days = tuple(
            sorted(
                day
                for day, places in need.open_places.items()
                if places > 0 and day.isoweekday() in helper.weekdays
            )
        )
        if not days:
            return Screen(Exclusion.DAYS)
    km = within_km(helper.base, need.location, helper.radius_km)
    if km is None:
        return Screen(Exclusion.DISTANCE)
    return Screen(None, km, days)


def score(
    helper: Helper,
    need: OpenNeed,
    distance_km: float,
    today: date,
    weights: Weights = DEFAULT_WEIGHTS,
) -> tuple[float, tuple[Factor, ...]]:
    """The total and its four contributions for a pair that passed ``screen``."""
    radius = helper.radius_km
    nearness = 1.0 if radius <= 0 else max(0.0, 1.0 - distance_km / radius)
    matched = len(need.skills & helper.skills)
    waited = max(0, (today - need.published_on).days)
    urgency = min(max(need.urgency, 0), MAX_URGENCY_RANK)
    factors = (
        Factor("distance", round(weights.distance * nearness, 1), weights.distance,
               round(distance_km, 1)),
        Factor("skills", weights.skills if need.skills else 0.0, weights.skills, matched),
        Factor("urgency", round(weights.urgency * urgency / MAX_URGENCY_RANK, 1),
               weights.urgency, urgency),
        Factor(
            "waiting",
            round(weights.waiting * min(waited, weights.waiting_cap_days)
                  / weights.waiting_cap_days, 1),
            weights.waiting,
            waited,
        ),
    )  # fmt: skip
    return round(sum(f.points for f in factors), 1), factors


def _match(helper: Helper, need: OpenNeed, checked: Screen, today: date, weights: Weights) -> Match:
    assert checked.distance_km is not None
    total, factors = score(helper, need, checked.distance_km, today, weights)
    places = None
    if need.kind == FARM_HELP and helper.size is not None:
        places = min(helper.size, max(need.open_places[d] for d in checked.days))
    return Match(
        helper_id=helper.id,
        need_id=need.id,
        total=total,
        distance_km=round(checked.distance_km, 1),
        factors=factors,
        days=checked.days,
        places=places,
    )


def recommend_needs(
    helper: Helper,
    needs: Iterable[OpenNeed],
    today: date,
    limit: int = 20,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Recommendations:
    """The best open needs for a team or company, best first; equal scores go to the
    neediest household first."""
    needs = list(needs)
    priority = {need.id: need.priority for need in needs}
    matches, excluded = _screen_and_score(((helper, need) for need in needs), today, weights)
    matches.sort(key=lambda m: (-m.total, -priority[m.need_id], m.distance_km, m.need_id))
    return Recommendations(tuple(matches[:limit]), MappingProxyType(dict(excluded)))


def recommend_helpers(
    need: OpenNeed,
    helpers: Iterable[Helper],
    today: date,
    limit: int = 20,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Recommendations:
    """The best verified teams and companies for one need, best first. Urgency and days
    waiting are the need's own, so here distance and skills set the order; they are
    still shown, as they are part of why the need is worth taking."""
    matches, excluded = _screen_and_score(((helper, need) for helper in helpers), today, weights)
    matches.sort(key=lambda m: (-m.total, m.distance_km, m.helper_id))
    return Recommendations(tuple(matches[:limit]), MappingProxyType(dict(excluded)))


def _screen_and_score(
    pairs: Iterable[tuple[Helper, OpenNeed]], today: date, weights: Weights
) -> tuple[list[Match], Counter[Exclusion]]:
    """Score every pair that passes the hard filters; count those each filter excluded."""
    matches: list[Match] = []
    excluded: Counter[Exclusion] = Counter()
    for helper, need in pairs:
        checked = screen(helper, need)
        if checked.exclusion is not None:
            excluded[checked.exclusion] += 1
        else:
            matches.append(_match(helper, need, checked, today, weights))
    return matches, excluded
