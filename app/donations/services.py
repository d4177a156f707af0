"""In-kind donations by companies: for a need, or into a district's resource pool that
caseworkers draw from. A donation counts (for points and reports) once a caseworker
confirms it was received."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app import events, privacy
from app.accounts.models import Organisation, OrgKind, Role, User
from app.donations.models import DONATION, Donation, DonationStatus
from app.errors import Conflict, NotAllowed, ValidationFailed
from app.models_base import utcnow
from app.needs.models import PUBLIC_STATES, Need, NeedState
from app.places import gazetteer
from app.uploads import services as uploads

MAX_CSV_ROWS = 1000
CSV_COLUMNS = ("item", "quantity", "value_yuan", "need_id", "district_code", "note", "external_ref")


@dataclass
class DonationData:
    item: str
    quantity: int | None
    value_yuan: int | None
    need_id: int | None = None
    district_code: str = ""
    note: str = ""
    external_ref: str = ""


@dataclass
class LoggedDonation:
    donation: Donation
    created: bool  # False when the external reference was already logged (a replay)


def _company_of(actor: User) -> Organisation:
    organisation = actor.organisation
    if organisation is None or organisation.kind is not OrgKind.COMPANY:
        raise NotAllowed(_l("Only companies log donations."))
    if not organisation.can_claim():
        raise NotAllowed(
            _l("Your organisation must be verified by an admin before it can claim needs.")
        )
    return organisation


def _problems(session: Session, data: DonationData) -> tuple[dict[str, list[str]], Need | None]:
    errors: dict[str, list[str]] = {}
    if not data.item.strip() or len(data.item.strip()) > 120:
        errors["item"] = [str(_l("Name the item (at most 120 characters)."))]
    if data.quantity is None or not 1 <= data.quantity <= 100_000:
        errors["quantity"] = [str(_l("Between 1 and 100,000."))]
    if data.value_yuan is None or not 0 <= data.value_yuan <= 10_000_000:
        errors["value_yuan"] = [str(_l("Give the value in whole yuan."))]
    if len(data.note) > 500:
        errors["note"] = [str(_l("At most 500 characters."))]
    if len(data.external_ref) > 64:
        errors["external_ref"] = [str(_l("At most 64 characters."))]
    need = None
    if data.need_id is not None:
        need = session.get(Need, data.need_id) if 0 < data.need_id < 2**31 else None
        if need is None or need.state not in PUBLIC_STATES or need.state is NeedState.CLOSED:
            errors["need_id"] = [str(_l("No open need has this number."))]
    elif not gazetteer.is_district(data.district_code):
        errors["district_code"] = [str(_l("Choose the district whose pool receives it."))]
    for name, messages in privacy.refusals(
        {"item": data.item, "note": data.note}, need.household if need else None
    ).items():
        errors.setdefault(name, []).extend(messages)
    return errors, need


def log_donation(
    session: Session, actor: User, data: DonationData, receipt: FileStorage | None = None
) -> LoggedDonation:
    """Log a donation; replaying the same ``external_ref`` returns the first one."""
    organisation = _company_of(actor)
    ref = data.external_ref.strip() or None
    if ref is not None:
        existing = session.scalar(
            select(Donation).where(
                Donation.organisation_id == organisation.id, Donation.external_ref == ref
            )
        )
        if existing is not None:
            return LoggedDonation(existing, created=False)
    errors, need = _problems(session, data)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), errors)
    donation = Donation(
        organisation_id=organisation.id,
        logged_by_id=actor.id,
        need_id=need.id if need else None,
        district_code=need.district_code if need else data.district_code,
        item=data.item.strip(),
        quantity=data.quantity,
        value_yuan=data.value_yuan,
        note=data.note.strip(),
        external_ref=ref,
    )
    session.add(donation)
    session.flush()
    if receipt is not None and receipt.filename:
        uploads.store_image(
            session,
            receipt,
            owner_kind="donation",
            owner_id=donation.id,
            district_code=donation.district_code,
            uploaded_by=actor,
        )
    events.emit(events.donation_logged, session=session, donation=donation)
    return LoggedDonation(donation, created=True)


@dataclass
class ImportResult:
    created: int = 0
    replayed: int = 0
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # by CSV line


def import_csv(session: Session, actor: User, upload: FileStorage) -> ImportResult:
    """Log many donations from a CSV file, all or nothing: one bad row and nothing is
    stored; the result names every bad row and field."""
    _company_of(actor)
    raw = upload.read(2 * 1024 * 1024 + 1)
    if len(raw) > 2 * 1024 * 1024:
        raise ValidationFailed(
            _l("The CSV file is larger than 2 MB."),
            {"file": [str(_l("The CSV file is larger than 2 MB."))]},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            _l("Save the CSV file as UTF-8."), {"file": [str(_l("Save the CSV file as UTF-8."))]}
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"item", "quantity", "value_yuan"} - set(reader.fieldnames or [])
    if missing:
        message = _l("The CSV file needs the columns: %(columns)s.", columns=", ".join(CSV_COLUMNS))
        raise ValidationFailed(message, {"file": [str(message)]})
    rows = list(reader)
    if not rows or len(rows) > MAX_CSV_ROWS:
        message = _l("The CSV file must have between 1 and %(n)s rows.", n=MAX_CSV_ROWS)
        raise ValidationFailed(message, {"file": [str(message)]})
    result = ImportResult()
    parsed: list[DonationData] = []
    for line, row in enumerate(rows, start=2):
        data, row_errors = _parse_row(row)
        if not row_errors:
            row_errors, _need = _problems(session, data)
        if row_errors:
            result.errors[line] = row_errors
        parsed.append(data)
    if result.errors:
        return result
    with session.begin_nested():
        for data in parsed:
            if log_donation(session, actor, data).created:
                result.created += 1
            else:
                result.replayed += 1
    return result


def _int_or_none(value: str | None) -> int | None:
    """A whole number that fits a database integer, or None (superscripts and other
    Unicode digits are not numbers here)."""
    value = (value or "").strip()
    digits = value.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        return None
    return int(value)


def _parse_row(row: dict[str, str | None]) -> tuple[DonationData, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    quantity = _int_or_none(row.get("quantity"))
    value = _int_or_none(row.get("value_yuan"))
    need_raw = (row.get("need_id") or "").strip()
    need_id = _int_or_none(need_raw)
    if need_raw and need_id is None:
        errors["need_id"] = [str(_l("No open need has this number."))]
    data = DonationData(
        item=(row.get("item") or "").strip(),
        quantity=quantity,
        value_yuan=value,
        need_id=need_id,
        district_code=(row.get("district_code") or "").strip(),
        note=(row.get("note") or "").strip(),
        external_ref=(row.get("external_ref") or "").strip(),
    )
    return data, errors


def donations_of_company(session: Session, actor: User) -> list[Donation]:
    organisation = actor.organisation
    if organisation is None:
        return []
    return list(
        session.scalars(
            select(Donation)
            .where(Donation.organisation_id == organisation.id)
            .order_by(Donation.created_at.desc())
            .limit(200)
        )
    )


def donations_to_review(session: Session, actor: User) -> list[Donation]:
    """Donations waiting for a caseworker of the actor's area to confirm receipt."""
    if not actor.has_role(Role.CASEWORKER):
        raise NotAllowed(_l("Only caseworkers confirm donations."))
    donations = session.scalars(
        select(Donation)
        .where(Donation.status == DonationStatus.LOGGED)
        .order_by(Donation.created_at)
    )
    return [d for d in donations if actor.works_in(d.district_code)]


def pool_of(session: Session, actor: User) -> list[Donation]:
    """Received donations not yet given to a need, in the caseworker's area."""
    donations = session.scalars(
        select(Donation)
        .where(Donation.status == DonationStatus.RECEIVED, Donation.need_id.is_(None))
        .order_by(Donation.received_at)
    )
    return [d for d in donations if actor.works_in(d.district_code)]


def _caseworker_for(donation: Donation, actor: User) -> None:
    if not actor.is_caseworker_for(donation.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can do that."))


def receive_donation(session: Session, donation: Donation, actor: User) -> None:
    """The caseworker confirms the goods arrived: from now on the donation counts."""
    _caseworker_for(donation, actor)
    if donation.status is not DonationStatus.LOGGED:
        raise Conflict(_l("This donation was already handled."))
    DONATION.apply(
        session, donation, "receive", actor, received_at=utcnow(), received_by_id=actor.id
    )
    events.emit(events.donation_received, session=session, donation=donation, actor=actor)


def reject_donation(session: Session, donation: Donation, actor: User) -> None:
    _caseworker_for(donation, actor)
    if donation.status is not DonationStatus.LOGGED:
        raise Conflict(_l("This donation was already handled."))
    DONATION.apply(session, donation, "reject", actor)


def allocate(session: Session, donation: Donation, need: Need, actor: User) -> None:
    """Give a pooled donation to one of the caseworker's needs."""
    _caseworker_for(donation, actor)
    if not actor.is_caseworker_for(need.district_code):
        raise NotAllowed(_l("Only a caseworker of this area can do that."))
    if donation.status is not DonationStatus.RECEIVED or donation.need_id is not None:
        raise Conflict(_l("Only received, unallocated donations can be given to a need."))
    donation.need_id = need.id
    session.flush()
