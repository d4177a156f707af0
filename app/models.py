"""Every model, imported once so that ``Base.metadata`` is complete (Alembic, tests)."""

from app.accounts.models import ApiKey, Membership, Organisation, User
from app.extensions import Base
from app.needs.models import Household, Need, NeedEvent

__all__ = ["ApiKey", "Base", "Household", "Membership", "Need", "NeedEvent", "Organisation", "User"]
