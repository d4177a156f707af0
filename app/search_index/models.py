"""The search outbox: needs whose document must still reach the external search engine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Base
from app.models_base import UTCDateTime, utcnow


class SearchOutbox(Base):
    """A need whose search document changed. Written in the transaction that changed the
    need and deleted once Elasticsearch holds the need's current document, so a change
    made while the engine is down waits here instead of being lost. Delivery reads the
    need as it is by then; the row only says which one to read (hence no foreign key)."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
