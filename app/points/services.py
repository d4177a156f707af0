"""The points ledger: award on confirmation, reverse on withdrawal, spend in the shop.

Balances are sums of entries. Awards carry a unique dedupe key per (rule, source event,
owner), so confirming twice, replaying an event or racing the same confirmation can never
award twice; a reversal names the entry it cancels (unique), so it happens once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.accounts.models import Organisation, Role, User
from app.claims.models import Claim, DeliveryMethod
from app.donations.models import Donation
from app.errors import Conflict, InvalidTransition, NotAllowed, NotFound
from app.models_base import CHINA, utcnow
from app.needs.models import Need, NeedEvent, NeedKind
from app.payments.models import COUNTING, CashDonation
from app.points import rules
from app.points.models import (
    REDEMPTION,
    EntryKind,
    PointsEntry,
    Redemption,
    Reward,
)
from app.shifts.models import Shift, ShiftSignup

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Owner:
    """Who holds points: a person or an organisation."""

    user_id: int | None = None
    org_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Owner:
        """Company and team admins act for their organisation; everyone else for themselves."""
        org = user.organisation
        if org is not None and user.is_org_admin(org):
            return cls(org_id=org.id)
        return cls(user_id=user.id)

    def where(self, model: type) -> ColumnElement[bool]:
        if self.user_id is not None:
            return model.owner_user_id == self.user_id  # type: ignore[attr-defined]
        return model.owner_org_id == self.org_id  # type: ignore[attr-defined]


def _insert_once(session: Session, values: dict[str, object]) -> bool:
    """Insert a ledger row unless its dedupe key exists; True when it was written.
    ``ON CONFLICT DO NOTHING`` makes this safe under concurrent confirmations too."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(PointsEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(PointsEntry.id)  # rowcount is not reliable here on psycopg
    )
    return session.execute(statement).first() is not None


def _write_awards(
    session: Session,
    awards: list[rules.Award],
    *,
    source_kind: str,
    source_id: int,
    need: Need | None,
    district_code: str | None,
) -> int:
    written = 0
    for award in awards:
        if award.amount <= 0:
            continue
        written += _insert_once(
            session,
            {
                "owner_user_id": award.owner_user_id,
                "owner_org_id": award.owner_org_id,
                "amount": award.amount,
                "kind": EntryKind.EARN,
                "rule": award.rule,
                "reason": award.reason,
                "source_kind": source_kind,
                "source_id": source_id,
                "need_id": need.id if need else None,
                "district_code": district_code,
                "dedupe_key": f"{award.rule}:{source_kind}:{source_id}:{award.sub_key}:"
                f"{award.owner_key}",
                "created_at": utcnow(),
            },
        )
    session.flush()
    return written


def _self_help(need: Need, user: User) -> bool:
    """No points for one's own needs, or for needs of households in one's own care."""
    return user.id == need.created_by_id or (user.is_staff_for(need.district_code))


def award_for_confirmation(
    session: Session, need: Need, event: NeedEvent, *, had_red: bool = False
) -> int:
    """Points for a confirmed need, keyed to the confirm event. Returns entries written."""
    config = current_app.config
    awards: list[rules.Award] = []
    if need.kind is NeedKind.FARM_HELP:
        signups = session.scalars(
            select(ShiftSignup)
            .join(Shift, Shift.id == ShiftSignup.shift_id)
            .where(Shift.need_id == need.id, ShiftSignup.confirmed_at.is_not(None))
        ).all()
        for signup in signups:
            if _self_help(need, signup.user):
                continue
            points = rules.hour_points(signup.minutes_worked or 0, config)
            reason = "confirmed volunteer hours"
            awards.append(
                rules.Award("member_hours", points, signup.user_id, None, f"s{signup.id}", reason)
            )
            awards.append(
                rules.Award(
                    "team_hours", points, None, signup.organisation_id, f"s{signup.id}", reason
                )
            )
        leader = need.claimant
        if leader is not None and need.claimant_org_id and awards:
            awards += rules.bonuses(
                was_red=had_red,
                urgency=need.urgency,
                user_id=None,
                org_id=need.claimant_org_id,
                config=config,
                sub_key="need",
            )
    else:
        claim = session.scalar(
            select(Claim)
            .where(Claim.need_id == need.id, Claim.confirmed_at.is_not(None))
            .order_by(Claim.id.desc())
        )
        if claim is None:
            return 0
        if claim.method is DeliveryMethod.CASH:
            awards += _cash_awards(session, need, config, had_red)
            return _write_awards(
                session,
                awards,
                source_kind="need_event",
                source_id=event.id,
                need=need,
                district_code=need.district_code,
            )
        if _self_help(need, claim.claimant):
            return 0
        user_id = None if claim.organisation_id else claim.claimant_id
        value = _need_value(need, claim)
        awards.append(
            rules.Award(
                "help_value",
                rules.value_points(value, config),
                user_id,
                claim.organisation_id,
                f"c{claim.id}",
                "confirmed help, by value",
            )
        )
        awards += rules.bonuses(
            was_red=had_red,
            urgency=need.urgency,
            user_id=user_id,
            org_id=claim.organisation_id,
            config=config,
            sub_key=f"c{claim.id}",
        )
    return _write_awards(
        session,
        awards,
        source_kind="need_event",
        source_id=event.id,
        need=need,
        district_code=need.district_code,
    )


def _cash_awards(session: Session, need: Need, config: Any, had_red: bool) -> list[rules.Award]:
    """Each funder earns points for the money the need kept of their gift."""
    awards: list[rules.Award] = []
    gifts = session.scalars(
        select(CashDonation).where(
            CashDonation.need_id == need.id, CashDonation.status.in_(COUNTING)
        )
    ).all()
    for gift in gifts:
        if _self_help(need, gift.donor):
            continue
        awards.append(
            rules.Award(
                "cash_value",
                rules.value_points(gift.kept_minor // 100, config),
                gift.donor_id,
                None,
                f"cash{gift.id}",
                "confirmed cash gift",
            )
        )
        awards += rules.bonuses(
            was_red=had_red,
            urgency=need.urgency,
            user_id=gift.donor_id,
            org_id=None,
            config=config,
            sub_key=f"cash{gift.id}",
        )
    return awards


def _need_value(need: Need, claim: Claim) -> int:
    if need.kind is NeedKind.REPAIR:
        return claim.plan_cost_yuan or need.estimated_cost_yuan or 0
    return need.estimated_value_yuan or 0


def award_for_donation(session: Session, donation: Donation) -> int:
    """Points for a donation in kind once a caseworker confirmed receiving it."""
    award = rules.Award(
        "donation_value",
        rules.value_points(donation.value_yuan, current_app.config),
        None,
        donation.organisation_id,
        f"d{donation.id}",
        "donation in kind received",
    )
    return _write_awards(
        session,
        [award],
        source_kind="donation",
        source_id=donation.id,
        need=donation.need,
        district_code=donation.district_code,
    )


def award_for_pickup(
    session: Session, booking_id: int, organisation_id: int, district_code: str
) -> int:
    """Points to a provider for a pickup that really happened (a redeemed code), never for
    posting an offer. The booking id makes it once per code."""
    amount = current_app.config["POINTS_PER_PICKUP"]
    award = rules.Award(
        "pickup", amount, None, organisation_id, f"b{booking_id}", "pickup code redeemed"
    )
    return _write_awards(
        session,
        [award],
        source_kind="pickup",
        source_id=booking_id,
        need=None,
        district_code=district_code,
    )


def reverse_confirmation(session: Session, need: Need) -> int:
    """Counter-entries for every award of the need's confirmations not yet reversed."""
    confirm_events = select(NeedEvent.id).where(
        NeedEvent.need_id == need.id, NeedEvent.action == "confirm"
    )
    reversed_ids = select(PointsEntry.reverses_id).where(PointsEntry.reverses_id.is_not(None))
    entries = session.scalars(
        select(PointsEntry).where(
            PointsEntry.source_kind == "need_event",
            PointsEntry.source_id.in_(confirm_events),
            PointsEntry.reverses_id.is_(None),
            PointsEntry.id.not_in(reversed_ids),
        )
    ).all()
    written = 0
    for entry in entries:
        written += _insert_once(
            session,
            {
                "owner_user_id": entry.owner_user_id,
                "owner_org_id": entry.owner_org_id,
                "amount": -entry.amount,
                "kind": EntryKind.EARN,
                "rule": entry.rule,
                "reason": "confirmation withdrawn",
                "source_kind": entry.source_kind,
                "source_id": entry.source_id,
                "need_id": entry.need_id,
                "district_code": entry.district_code,
                "dedupe_key": f"reverse:{entry.id}",
                "reverses_id": entry.id,
                "created_at": utcnow(),
            },
        )
    session.flush()
    return written


# --- balances and statements -----------------------------------------------------------


def balance(session: Session, owner: Owner) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(owner.where(PointsEntry))
        )
        or 0
    )


def entries(session: Session, owner: Owner, limit: int = 100) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry)
            .where(owner.where(PointsEntry))
            .order_by(PointsEntry.id.desc())
            .limit(limit)
        )
    )


# --- expiry ----------------------------------------------------------------------------


def expire_points(session: Session, as_of: date) -> int:
    """Lapse points earned more than POINTS_EXPIRE_MONTHS before ``as_of`` and not spent
    since, by one ledger entry per owner (run at year end). Returns owners affected."""
    months = int(current_app.config["POINTS_EXPIRE_MONTHS"])
    if months <= 0:
        return 0
    cutoff_day = _months_before(as_of, months)
    cutoff = datetime(cutoff_day.year, cutoff_day.month, cutoff_day.day, tzinfo=CHINA)
    old_earned = func.coalesce(
        func.sum(PointsEntry.amount).filter(
            PointsEntry.kind == EntryKind.EARN, PointsEntry.created_at < cutoff
        ),
        0,
    )
    used = func.coalesce(
        -func.sum(PointsEntry.amount).filter(PointsEntry.kind != EntryKind.EARN), 0
    )
    rows = session.execute(
        select(PointsEntry.owner_user_id, PointsEntry.owner_org_id, old_earned, used).group_by(
            PointsEntry.owner_user_id, PointsEntry.owner_org_id
        )
    ).all()
    affected = 0
    for user_id, org_id, earned, spent in rows:
        lapse = int(earned) - int(spent)  # what is left of the old points
        if lapse <= 0:
            continue
        owner_key = f"u{user_id}" if user_id else f"o{org_id}"
        affected += _insert_once(
            session,
            {
                "owner_user_id": user_id,
                "owner_org_id": org_id,
                "amount": -lapse,
                "kind": EntryKind.EXPIRE,
                "rule": "expiry",
                "reason": f"points earned before {cutoff_day.isoformat()} lapsed",
                "source_kind": "expiry",
                "source_id": as_of.year,
                "dedupe_key": f"expiry:{as_of.isoformat()}:{owner_key}",
                "created_at": utcnow(),
            },
        )
    session.flush()
    return affected


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, 28))


# --- the points shop -------------------------------------------------------------------


def _lock_owner(session: Session, owner: Owner) -> None:
    """Serialise spending per owner: PostgreSQL locks the owner's row; SQLite's write
    transactions are already one at a time (BEGIN IMMEDIATE)."""
    if owner.user_id is not None:
        session.execute(select(User.id).where(User.id == owner.user_id).with_for_update())
    else:
        session.execute(
            select(Organisation.id).where(Organisation.id == owner.org_id).with_for_update()
        )


def redeem(session: Session, reward: Reward, actor: User) -> Redemption:
    """Spend points on a reward: stock and balance change together or not at all; the
    shop is never oversold and no balance goes below zero."""
    if not reward.active:
        raise Conflict(_l("This reward is no longer offered."))
    owner = Owner.of(actor)
    _lock_owner(session, owner)
    if balance(session, owner) < reward.price_points:
        raise Conflict(
            _l("Not enough points: this reward costs %(price)s.", price=reward.price_points)
        )
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0, Reward.active)
        .values(stock=Reward.stock - 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_l("This reward is out of stock."))
    redemption = Redemption(
        reward_id=reward.id,
        owner_user_id=owner.user_id,
        owner_org_id=owner.org_id,
        redeemed_by_id=actor.id,
        points=reward.price_points,
        code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)),
    )
    session.add(redemption)
    session.flush()
    _insert_once(
        session,
        {
            "owner_user_id": owner.user_id,
            "owner_org_id": owner.org_id,
            "amount": -reward.price_points,
            "kind": EntryKind.SPEND,
            "rule": "redemption",
            "reason": f"redeemed: {reward.name_zh}",
            "source_kind": "redemption",
            "source_id": redemption.id,
            "dedupe_key": f"redeem:{redemption.id}",
            "created_at": utcnow(),
        },
    )
    session.flush()
    session.refresh(reward)
    return redemption


def cancel_redemption(session: Session, redemption: Redemption, actor: User) -> None:
    """Give the points and the stock back, once."""
    owner = Owner(redemption.owner_user_id, redemption.owner_org_id)
    if not (actor.has_role(Role.ADMIN) or Owner.of(actor) == owner):
        raise NotAllowed(_l("Only the redeemer or an admin can cancel a redemption."))
    try:
        REDEMPTION.apply(session, redemption, "cancel", actor, cancelled_at=utcnow())
    except InvalidTransition as exc:
        raise Conflict(_l("This redemption was already cancelled or collected.")) from exc
    session.execute(
        update(Reward).where(Reward.id == redemption.reward_id).values(stock=Reward.stock + 1)
    )
    _insert_once(
        session,
        {
            "owner_user_id": owner.user_id,
            "owner_org_id": owner.org_id,
            "amount": redemption.points,
            "kind": EntryKind.SPEND,
            "rule": "redemption_refund",
            "reason": "redemption cancelled",
            "source_kind": "redemption",
            "source_id": redemption.id,
            "dedupe_key": f"refund:{redemption.id}",
            "created_at": utcnow(),
        },
    )
    session.flush()
    session.refresh(redemption)


def collect_redemption(session: Session, redemption: Redemption, actor: User) -> None:
    """An admin hands the reward over against its code."""
    if not actor.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only an admin hands out rewards."))
    try:
        REDEMPTION.apply(session, redemption, "collect", actor)
    except InvalidTransition as exc:
        raise Conflict(_l("This redemption was already cancelled or collected.")) from exc


def redemption_by_code(session: Session, code: str) -> Redemption:
    redemption = session.scalar(select(Redemption).where(Redemption.code == code.strip().upper()))
    if redemption is None:
        raise NotFound(_l("No redemption has this code."))
    return redemption


def rewards(session: Session, include_inactive: bool = False) -> list[Reward]:
    query = select(Reward).order_by(Reward.price_points)
    if not include_inactive:
        query = query.where(Reward.active)
    return list(session.scalars(query))


def redemptions_of(session: Session, owner: Owner) -> list[Redemption]:
    return list(
        session.scalars(
            select(Redemption).where(owner.where(Redemption)).order_by(Redemption.id.desc())
        )
    )


def period_start(period: str, now: datetime | None = None) -> datetime | None:
    """The start of this month or year in China time; None for all time."""
    local = (now or utcnow()).astimezone(CHINA)
    if period == "month":
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "year":
        return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


# --- points for the people who visit (Yunan) -------------------------------------------


def award_for_work(
    session: Session,
    user_id: int,
    *,
    rule: str,
    amount: int,
    source_kind: str,
    source_id: int,
    reason: str,
    district_code: str | None,
    sub_key: str = "",
) -> int:
    """Points to a caseworker or agent for a logged visit or an application that became
    confirmed help; once per (rule, source, sub_key)."""
    award = rules.Award(
        rule=rule,
        amount=amount,
        owner_user_id=user_id,
        owner_org_id=None,
        sub_key=sub_key,
        reason=reason,
    )
    return _write_awards(
        session,
        [award],
        source_kind=source_kind,
        source_id=source_id,
        need=None,
        district_code=district_code,
    )


def reverse_work(session: Session, source_kind: str, source_id: int, reason: str) -> int:
    """Counter-entries for the awards of one source not yet reversed (a rejected visit)."""
    reversed_ids = select(PointsEntry.reverses_id).where(PointsEntry.reverses_id.is_not(None))
    found = session.scalars(
        select(PointsEntry).where(
            PointsEntry.source_kind == source_kind,
            PointsEntry.source_id == source_id,
            PointsEntry.amount > 0,
            PointsEntry.id.not_in(reversed_ids),
        )
    ).all()
    written = 0
    for entry in found:
        written += _insert_once(
            session,
            {
                "owner_user_id": entry.owner_user_id,
                "owner_org_id": entry.owner_org_id,
                "amount": -entry.amount,
                "kind": EntryKind.EARN,
                "rule": entry.rule,
                "reason": reason[:200],
                "source_kind": entry.source_kind,
                "source_id": entry.source_id,
                "need_id": entry.need_id,
                "district_code": entry.district_code,
                "dedupe_key": f"reverse:{entry.id}",
                "reverses_id": entry.id,
                "created_at": utcnow(),
            },
        )
    session.flush()
    return written


@dataclass
class SettlementRow:
    user: User
    visits: int
    applications: int
    points: int


def quarter_bounds(quarter: str) -> tuple[datetime, datetime] | None:
    """ "2026Q4" -> its first moment and the first moment after it, in China time."""
    try:
        year_text, q_text = quarter.upper().split("Q")
        year, q = int(year_text), int(q_text)
    except ValueError:
        return None
    if not (2000 <= year <= 2100 and 1 <= q <= 4):
        return None
    start = datetime(year, 3 * q - 2, 1, tzinfo=CHINA)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=CHINA)
    return start, end


def current_quarter(now: datetime | None = None) -> str:
    local = (now or utcnow()).astimezone(CHINA)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def work_settlement(
    session: Session, quarter: str, district_codes: list[str] | None
) -> list[SettlementRow]:
    """Points earned for visits and applications in a quarter, per person, for the
    districts given (None: everywhere). Reversals count against the quarter they fall in."""
    bounds = quarter_bounds(quarter)
    if bounds is None:
        return []
    start, end = bounds
    query = (
        select(
            PointsEntry.owner_user_id,
            func.sum(case((PointsEntry.rule == "visit", PointsEntry.amount), else_=0)),
            func.sum(case((PointsEntry.rule == "application", PointsEntry.amount), else_=0)),
            func.sum(case((PointsEntry.rule == "visit", func.sign(PointsEntry.amount)), else_=0)),
            func.sum(
                case((PointsEntry.rule == "application", func.sign(PointsEntry.amount)), else_=0)
            ),
        )
        .where(
            PointsEntry.rule.in_(("visit", "application")),
            PointsEntry.owner_user_id.is_not(None),
            PointsEntry.created_at >= start,
            PointsEntry.created_at < end,
        )
        .group_by(PointsEntry.owner_user_id)
    )
    if district_codes is not None:
        query = query.where(PointsEntry.district_code.in_(district_codes))
    rows = session.execute(query).all()
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_([r[0] for r in rows])))
    }
    result = [
        SettlementRow(
            user=users[user_id],
            visits=int(n_visits or 0),
            applications=int(n_apps or 0),
            points=int(visit_pts or 0) + int(app_pts or 0),
        )
        for user_id, visit_pts, app_pts, n_visits, n_apps in rows
    ]
    result.sort(key=lambda r: (-r.points, r.user.display_name))
    return result
