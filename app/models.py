"""Every model, imported once so that ``Base.metadata`` is complete (Alembic, tests)."""

from app.accounts.models import (
    ApiKey,
    Membership,
    Organisation,
    OrganisationSkill,
    TeamInvite,
    User,
)
from app.claims.models import Claim
from app.core.models import OutboxMessage, StatusEvent
from app.donations.models import Donation
from app.extensions import Base
from app.households.models import (
    Area,
    CityPolicy,
    HouseholdEvent,
    HouseholdHistory,
    HouseholdMember,
    LocalService,
    Visit,
    VisitRule,
)
from app.intake.models import Application
from app.needs import lifecycle  # noqa: F401 - registers the need's state machine
from app.needs.models import FollowUp, Household, Need, NeedEvent
from app.notifications.models import Notification, OutboxEmail
from app.offers.models import (
    Booking,
    Offer,
    OfferSlot,
    PoolReservation,
    PoolStock,
    ProviderPermit,
    Recipient,
)
from app.payments.models import CashDonation, StripeEvent
from app.points.models import PointsEntry, Redemption, Reward
from app.reports.models import (
    DurationMonth,
    ExportLog,
    HouseholdMonth,
    ImportBatch,
    ImportRecord,
    LightCount,
    NeedMonth,
    PublicMonth,
    RollupRefresh,
    ValueMonth,
)
from app.search_index.models import SearchOutbox
from app.shifts.models import Shift, ShiftSignup
from app.uploads.models import Attachment

__all__ = [
    "Application",
    "Area",
    "CityPolicy",
    "HouseholdEvent",
    "HouseholdHistory",
    "HouseholdMember",
    "LocalService",
    "Visit",
    "VisitRule",
    "HouseholdMonth",
    "ValueMonth",
    "RollupRefresh",
    "PublicMonth",
    "NeedMonth",
    "LightCount",
    "ImportRecord",
    "ImportBatch",
    "ExportLog",
    "DurationMonth",
    "ApiKey",
    "Booking",
    "Attachment",
    "CashDonation",
    "Base",
    "Claim",
    "Donation",
    "FollowUp",
    "Household",
    "Membership",
    "Need",
    "NeedEvent",
    "Offer",
    "OfferSlot",
    "Notification",
    "Organisation",
    "OrganisationSkill",
    "OutboxEmail",
    "OutboxMessage",
    "PointsEntry",
    "PoolReservation",
    "PoolStock",
    "ProviderPermit",
    "Recipient",
    "Redemption",
    "Reward",
    "SearchOutbox",
    "Shift",
    "ShiftSignup",
    "StatusEvent",
    "StripeEvent",
    "TeamInvite",
    "User",
]
