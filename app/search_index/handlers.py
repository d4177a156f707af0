"""The search index follows the needs: every change of a need that was or is public."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app import events
from app.needs.models import Need
from app.search_index.sync import need_changed


@events.need_transitioned.connect
@events.need_edited.connect
def reindex_need(
    sender: object, *, session: Session, need: Need, was_public: bool, **_: Any
) -> None:
    need_changed(session, need, was_public=was_public)
