"""Volunteer team membership as 志愿汇 users expect it: the leader invites by link or QR code
(expiring, revocable), anyone with an account joins through it, the leader removes members
and hands over leadership."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import (
    MemberRole,
    Membership,
    Organisation,
    OrgKind,
    Role,
    TeamInvite,
    User,
)
from app.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from app.models_base import utcnow

INVITE_DAYS = (1, 3, 7, 30)
# Accounts that can become a team member by joining: people, not staff or companies.
JOINABLE_ROLES = (Role.DONOR, Role.TEAM)


def _leader(organisation: Organisation, actor: User) -> None:
    if organisation.kind is not OrgKind.TEAM:
        raise NotAllowed(_l("Only volunteer teams invite members by link."))
    if not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only the team's leader can do that."))


def create_invite(
    session: Session, organisation: Organisation, actor: User, days: int = 7
) -> TeamInvite:
    """A new invitation link, valid for ``days`` days."""
    _leader(organisation, actor)
    if days not in INVITE_DAYS:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"days": [str(_l("Choose how long the link stays valid."))]},
        )
    invite = TeamInvite(
        organisation_id=organisation.id,
        token=secrets.token_urlsafe(18),
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invite)
    session.flush()
    return invite


def invites_of(session: Session, organisation: Organisation) -> list[TeamInvite]:
    """Links still usable, newest first."""
    return list(
        session.scalars(
            select(TeamInvite)
            .where(
                TeamInvite.organisation_id == organisation.id,
                TeamInvite.revoked_at.is_(None),
                TeamInvite.expires_at > utcnow(),
            )
            .order_by(TeamInvite.id.desc())
        )
    )


def revoke_invite(session: Session, invite: TeamInvite, actor: User) -> None:
    _leader(invite.organisation, actor)
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        session.flush()


def usable_invite(session: Session, token: str, now: datetime | None = None) -> TeamInvite:
    """The invitation behind ``token``, or a clear refusal (unknown, revoked or expired)."""
    invite = session.scalar(select(TeamInvite).where(TeamInvite.token == token[:64]))
    if invite is None:
        raise NotFound(_l("This invitation link does not exist."))
    if invite.revoked_at is not None:
        raise Conflict(_l("The leader withdrew this invitation link. Ask for a new one."))
    if invite.expires_at <= (now or utcnow()):
        raise Conflict(_l("This invitation link has expired. Ask the leader for a new one."))
    return invite


def join(session: Session, token: str, user: User) -> Membership:
    """Join the team behind the link. A donor account becomes a team member's account."""
    invite = usable_invite(session, token)
    organisation = invite.organisation
    if any(m.organisation_id == organisation.id for m in user.memberships):
        raise Conflict(_l("You are already a member of this team."))
    if user.memberships:
        raise Conflict(
            _l("You already belong to %(name)s. Leave it first.", name=user.organisation.name)  # type: ignore[union-attr]
        )
    if user.role not in JOINABLE_ROLES:
        raise NotAllowed(_l("Staff and company accounts cannot join a volunteer team."))
    user.role = Role.TEAM
    membership = Membership(user=user, organisation=organisation, role=MemberRole.MEMBER)
    session.add(membership)
    session.flush()
    return membership


def _membership(session: Session, organisation: Organisation, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != organisation.id:
        raise NotFound(_l("Not a member of this team."))
    return membership


def remove_member(
    session: Session, organisation: Organisation, actor: User, membership_id: int
) -> None:
    """The leader removes a member (not themselves: hand over leadership first)."""
    _leader(organisation, actor)
    membership = _membership(session, organisation, membership_id)
    if membership.user_id == actor.id:
        raise Conflict(_l("Hand over leadership before leaving the team."))
    session.delete(membership)
    session.flush()


def hand_over(
    session: Session, organisation: Organisation, actor: User, membership_id: int
) -> None:
    """The leader makes another member the leader and becomes a member."""
    _leader(organisation, actor)
    membership = _membership(session, organisation, membership_id)
    if membership.user_id == actor.id:
        raise Conflict(_l("You already lead this team."))
    mine = next(m for m in actor.memberships if m.organisation_id == organisation.id)
    membership.role = MemberRole.ADMIN
    mine.role = MemberRole.MEMBER
    session.flush()
