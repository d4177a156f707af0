"""From needs to search documents: the public fields, and nothing else.

The rows are read column by column (never the ``Need`` entity with its household), so a
household's name, ID number, phone, address or exact location cannot reach an index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.needs.models import PUBLIC_STATES, Need, NeedKind
from app.places import gazetteer
from search import NeedDocument

# What a need's public page shows; the story was checked not to name the household.
_PUBLIC_COLUMNS = (
    Need.id,
    Need.kind,
    Need.category,
    Need.state,
    Need.district_code,
    Need.urgency,
    Need.published_at,
    Need.approx_lat,
    Need.approx_lng,
    Need.title,
    Need.story,
    Need.item,
    Need.task,
)
# So that searching for the kind of help finds it, in either language.
KIND_WORDS = {
    NeedKind.MICRO_WISH: "微心愿 micro-wish",
    NeedKind.FARM_HELP: "助农耕 农活 farm help",
    NeedKind.REPAIR: "安心善居 维修 home repair",
}
BATCH = 2_000


def document_from(row: Any) -> NeedDocument:
    """The document of one need (a row of ``_PUBLIC_COLUMNS``, or a ``Need``)."""
    district_code: str = row.district_code
    district = gazetteer.get(district_code)
    try:
        city: gazetteer.Place | None = gazetteer.city_of(district_code)
    except (KeyError, ValueError):
        city = None
    places = dict.fromkeys(  # unique, in order: Dongguan is its own district
        name for place in (district, city) if place for name in (place.name_zh, place.name_en)
    )
    details = " ".join(part for part in (row.item, row.task, KIND_WORDS[row.kind]) if part)
    return NeedDocument(
        need_id=row.id,
        kind=row.kind.value,
        category=row.category.value,
        state=row.state.value,
        district_code=district_code,
        city_code=city.code if city else district_code,
        urgency=row.urgency.rank,
        published_at=row.published_at,
        lat=row.approx_lat,
        lng=row.approx_lng,
        title=row.title,
        story=row.story,
        details=details,
        places=" ".join(places),
    )


def public_documents(session: Session) -> Iterator[NeedDocument]:
    """Every public need's document, by id, streamed."""
    query = (
        select(*_PUBLIC_COLUMNS)
        .where(Need.state.in_(PUBLIC_STATES))
        .order_by(Need.id)
        .execution_options(yield_per=BATCH)
    )
    for row in session.execute(query):
        yield document_from(row)


def count_public(session: Session) -> int:
    return session.scalar(select(func.count()).where(Need.state.in_(PUBLIC_STATES))) or 0


def documents_for(
    session: Session, need_ids: Sequence[int], *, lock: bool = False
) -> tuple[list[NeedDocument], list[int]]:
    """The documents of the public needs among ``need_ids``, and the ids to remove (no
    longer public, or gone). ``lock`` holds the need rows until the transaction ends, so a
    change to one of them waits until its current state has been delivered."""
    query = select(*_PUBLIC_COLUMNS).where(Need.id.in_(need_ids)).order_by(Need.id)
    if lock:
        query = query.with_for_update(of=Need.__table__)
    documents: list[NeedDocument] = []
    public_ids: set[int] = set()
    for row in session.execute(query):
        if row.state in PUBLIC_STATES:
            documents.append(document_from(row))
            public_ids.add(row.id)
    return documents, [need_id for need_id in need_ids if need_id not in public_ids]
