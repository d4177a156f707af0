"""What supervisors look at: lights per district and the red list."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.errors import NotAllowed
from app.needs.models import Light, Need
from app.needs.services import in_area


@dataclass
class LightBoard:
    counts: dict[str, dict[Light, int]] = field(default_factory=dict)  # district -> light -> n
    red: list[Need] = field(default_factory=list)


def light_board(session: Session, actor: User) -> LightBoard:
    if not actor.has_role(Role.VERIFIER, Role.CASEWORKER) or actor.area_code is None:
        raise NotAllowed(_l("Only caseworkers and supervisors see the lights."))
    board = LightBoard()
    counts = session.execute(
        in_area(
            select(Need.district_code, Need.light, func.count()).where(Need.light != Light.NONE),
            Need.district_code,
            actor.area_code,
        ).group_by(Need.district_code, Need.light)
    ).all()
    for district, light, n in counts:
        board.counts.setdefault(district, {}).setdefault(light, 0)
        board.counts[district][light] += n
    board.red = list(
        session.scalars(
            in_area(
                select(Need).where(Need.light == Light.RED), Need.district_code, actor.area_code
            )
            .order_by(Need.light_changed_at)
            .limit(500)
        )
    )
    return board
