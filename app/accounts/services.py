"""Accounts: registration, sign-in, tokens, API keys, organisations and staff."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import (
    ORGANISATION,
    SELF_SERVICE_ROLES,
    ApiKey,
    BoardName,
    MemberRole,
    Membership,
    Organisation,
    OrganisationSkill,
    OrgKind,
    OrgStatus,
    Role,
    Skill,
    User,
)
from app.errors import Conflict, NotAllowed, ValidationFailed
from app.models_base import utcnow
from app.places import gazetteer

API_KEY_PREFIX = "slk_"
# 统一社会信用代码: 18 characters from digits and capital letters without I, O, S, V, Z.
LICENCE_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
MIN_PASSWORD_LENGTH = 10


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_HASH_TIME_COST"],
        memory_cost=config["PASSWORD_HASH_MEMORY_KIB"],
    )


def set_board_name(session: Session, user: User, choice: str) -> None:
    """How the person appears on public leaderboards: their name, a nickname or not at all."""
    if choice not in {b.value for b in BoardName}:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"board_name": [str(_l("Choose one of the options."))]},
        )
    user.board_name = choice
    session.flush()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_problems(password: str, email: str = "") -> list[str]:
    """Reasons a new password is too weak (empty when it is fine)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(str(_l("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)))
    if password.isdigit() or password.isalpha():
        problems.append(str(_l("Mix letters with digits or symbols.")))
    if email and password.lower() == email.lower():
        problems.append(str(_l("The password must not be your email address.")))
    return problems


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


@dataclass
class Registration:
    email: str
    password: str
    display_name: str
    role: Role
    organisation_name: str = ""
    licence_number: str = ""
    district_code: str = ""


def register(session: Session, data: Registration) -> User:
    """Create a self-service account; a company or team account also creates its organisation,
    which waits for an admin's verification before it may claim anything."""
    errors: dict[str, list[str]] = {}
    email = normalise_email(data.email)
    if data.role not in SELF_SERVICE_ROLES:
        errors["role"] = [str(_l("Choose donor, company or volunteer team."))]
    if get_user_by_email(session, email) is not None:
        errors["email"] = [str(_l("An account with this email already exists."))]
    problems = password_problems(data.password, email)
    if problems:
        errors["password"] = problems
    if not data.display_name.strip():
        errors["display_name"] = [str(_l("Please enter a name."))]
    if data.role in (Role.COMPANY, Role.TEAM):
        errors.update(_organisation_problems(session, data))
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)

    user = User(
        email=email,
        password_hash=hash_password(data.password),
        display_name=data.display_name.strip(),
        role=data.role,
    )
    session.add(user)
    if data.role in (Role.COMPANY, Role.TEAM):
        organisation = Organisation(
            kind=OrgKind.COMPANY if data.role is Role.COMPANY else OrgKind.TEAM,
            name=data.organisation_name.strip(),
            licence_number=data.licence_number.strip().upper() or None,
            district_code=data.district_code,
        )
        session.add(organisation)
        session.add(Membership(user=user, organisation=organisation, role=MemberRole.ADMIN))
    session.flush()
    return user


def _organisation_problems(session: Session, data: Registration) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.organisation_name.strip():
        errors["organisation_name"] = [str(_l("Please enter the organisation's name."))]
    if not gazetteer.is_district(data.district_code):
        errors["district_code"] = [str(_l("Choose a district in Guangdong."))]
    if data.role is Role.COMPANY:
        licence = data.licence_number.strip().upper()
        if not LICENCE_PATTERN.match(licence):
            errors["licence_number"] = [
                str(_l("Enter the 18-character unified social credit code on the licence."))
            ]
        elif session.scalar(select(Organisation.id).where(Organisation.licence_number == licence)):
            errors["licence_number"] = [str(_l("This licence number is already registered."))]
    return errors


def authenticate(session: Session, email: str, password: str) -> User:
    """The user with these credentials, or ``NotAllowed`` with one message for every failure
    (so the response does not tell which emails have accounts)."""
    user = get_user_by_email(session, email)
    failure = NotAllowed(_l("Wrong email or password."))
    if user is None:
        # Spend the same time as a real check so timing does not reveal unknown emails.
        _hasher().hash(password or "x")
        raise failure
    try:
        _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise failure from None
    if not user.is_active:
        raise NotAllowed(_l("This account is disabled."))
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# --- bearer tokens ---------------------------------------------------------------------


def _token_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


def issue_token(user: User) -> str:
    """A signed, expiring token. It embeds a fingerprint of the password hash, so changing
    the password revokes every token issued before."""
    return _token_serializer().dumps({"uid": user.id, "pw": user.password_hash[-12:]})


def user_for_bearer(session: Session, token: str) -> User | None:
    if token.startswith(API_KEY_PREFIX):
        return _user_for_api_key(session, token)
    try:
        payload = _token_serializer().loads(
            token, max_age=current_app.config["API_TOKEN_MAX_AGE_SECONDS"]
        )
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int):
        return None
    user = session.get(User, payload["uid"])
    if user is None or not user.is_active or user.password_hash[-12:] != payload.get("pw"):
        return None
    return user


def _hash_key(plaintext: str) -> str:
    # Keys are long random strings, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_api_key(session: Session, organisation: Organisation, actor: User, name: str) -> str:
    """Create a key for a company; returns the plaintext, which is shown once only."""
    if organisation.kind is not OrgKind.COMPANY or not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only a company's admin can create API keys."))
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {"name": [str(_l("Give the key a name of at most 80 characters."))]},
        )
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            organisation_id=organisation.id,
            created_by_id=actor.id,
            name=name,
            prefix=plaintext[:10],
            key_hash=_hash_key(plaintext),
        )
    )
    session.flush()
    return plaintext


def revoke_api_key(session: Session, key: ApiKey, actor: User) -> None:
    if not actor.is_org_admin(key.organisation):
        raise NotAllowed(_l("Only a company's admin can revoke API keys."))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()


def _user_for_api_key(session: Session, plaintext: str) -> User | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash_key(plaintext)))
    if key is None or key.revoked_at is not None:
        return None
    user = key.created_by
    # The key acts as its creator, and only while they still administer the company.
    if not user.is_active or not user.is_org_admin(key.organisation):
        return None
    key.last_used_at = utcnow()
    return user


def api_keys_of(session: Session, organisation: Organisation) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.organisation_id == organisation.id)
            .order_by(ApiKey.created_at.desc())
        )
    )


# --- organisations ---------------------------------------------------------------------


def organisations_for_review(session: Session) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation).order_by(
                (Organisation.status == OrgStatus.PENDING).desc(), Organisation.created_at
            )
        )
    )


def decide_organisation(
    session: Session, organisation: Organisation, admin: User, approve: bool, note: str = ""
) -> None:
    """An admin verifies (or turns down) an organisation after checking its papers."""
    if not admin.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can verify organisations."))
    note = note.strip()
    if not approve and not note:
        raise ValidationFailed(
            _l("Please give a reason."), {"note": [str(_l("A reason is required."))]}
        )
    ORGANISATION.apply(
        session,
        organisation,
        "verify" if approve else "reject",
        admin,
        note[:500],
        status_note=note[:500],
        verified_at=utcnow() if approve else None,
        verified_by_id=admin.id,
    )


def add_member(session: Session, organisation: Organisation, actor: User, email: str) -> Membership:
    """An organisation's admin (a team's leader) adds an existing account as a member."""
    if not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only the organisation's admin can add members."))
    user = get_user_by_email(session, email)
    expected = Role.COMPANY if organisation.kind is OrgKind.COMPANY else Role.TEAM
    if user is None or user.role is not expected:
        raise ValidationFailed(
            _l("Please correct the marked fields."),
            {
                "email": [
                    str(
                        _l(
                            "No account of the right kind has this email. Ask them to "
                            "register as a company or volunteer team member first."
                        )
                    )
                ]
            },
        )
    if user.memberships:
        raise Conflict(_l("This person already belongs to an organisation."))
    membership = Membership(user=user, organisation=organisation, role=MemberRole.MEMBER)
    session.add(membership)
    session.flush()
    return membership


def members_of(session: Session, organisation: Organisation) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.organisation_id == organisation.id)
            .order_by(Membership.role.desc(), Membership.id)
        )
    )


# --- staff -----------------------------------------------------------------------------


STAFF_ROLES = (Role.CASEWORKER, Role.VERIFIER, Role.ADMIN)


def create_staff(
    session: Session,
    admin: User,
    email: str,
    display_name: str,
    role: Role,
    area_code: str,
    password: str,
) -> User:
    """An admin creates a caseworker, verifier or admin account bound to an area."""
    if not admin.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can create staff accounts."))
    errors: dict[str, list[str]] = {}
    if role not in STAFF_ROLES:
        errors["role"] = [str(_l("Choose caseworker, verifier or admin."))]
    if get_user_by_email(session, email) is not None:
        errors["email"] = [str(_l("An account with this email already exists."))]
    if role is Role.CASEWORKER and not gazetteer.is_district(area_code):
        errors["area_code"] = [str(_l("A caseworker works in one district."))]
    elif role is Role.VERIFIER and gazetteer.get(area_code) is None:
        errors["area_code"] = [str(_l("Choose the district, city or province they supervise."))]
    problems = password_problems(password, email)
    if problems:
        errors["password"] = problems
    if not display_name.strip():
        errors["display_name"] = [str(_l("Please enter a name."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    user = User(
        email=normalise_email(email),
        display_name=display_name.strip(),
        role=role,
        area_code=area_code if role is not Role.ADMIN else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


# --- skills ----------------------------------------------------------------------------


def declare_skills(
    session: Session, organisation: Organisation, actor: User, skills: list[str]
) -> None:
    """An organisation's admin says which trades it offers; new ones wait for an admin's
    check (a licence, a certificate) before they count for repairs."""
    if not actor.is_org_admin(organisation):
        raise NotAllowed(_l("Only the organisation's admin can change its skills."))
    known = {s.value for s in Skill}
    wanted = set(skills)
    if not wanted <= known:
        raise ValidationFailed(
            _l("Please correct the marked fields."), {"skills": [str(_l("Choose from the list."))]}
        )
    for existing in list(organisation.skills):
        if existing.skill not in wanted:
            organisation.skills.remove(existing)
    have = {s.skill for s in organisation.skills}
    for skill in sorted(wanted - have):
        organisation.skills.append(OrganisationSkill(skill=skill))
    session.flush()


def verify_skill(session: Session, skill: OrganisationSkill, admin: User, approve: bool) -> None:
    if not admin.has_role(Role.ADMIN):
        raise NotAllowed(_l("Only a site admin can verify skills."))
    if approve:
        skill.verified_at = utcnow()
        skill.verified_by_id = admin.id
    else:
        session.delete(skill)
    session.flush()
