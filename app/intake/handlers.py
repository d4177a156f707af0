"""Applications follow the need they became: confirmed help marks them helped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import events
from app.intake import services
from app.intake.models import Application, ApplicationStatus


@events.need_transitioned.connect
def follow_need(sender: Any, *, session: Any, need: Any, **_: Any) -> None:
    if need.state not in services.HELPED_STATES:
        return
    for application in session.scalars(
        select(Application).where(
            Application.need_id == need.id, Application.status == ApplicationStatus.ACCEPTED
        )
    ).all():
        services.mark_helped(session, application)
