"""Asking the index: a page of needs, with distances and facet counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.needs.models import Need
from app.search_index.engines import database_index, engines
from search import Facets, SearchQuery, SearchResults, SearchUnavailable

log = logging.getLogger("app.search")


@dataclass
class SearchPage:
    """One page of public needs, as the views show it."""

    items: list[Need]
    total: int
    page: int
    per_page: int
    facets: Facets = field(default_factory=Facets)
    distances: dict[int, float] = field(default_factory=dict)
    engine: str = ""
    fallback: bool = False  # Elasticsearch could not answer; the database did

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_needs(session: Session, query: SearchQuery) -> SearchPage:
    """Run ``query`` on the configured engine, or on the database index when
    Elasticsearch cannot answer (logged, and shown by ``/healthz``)."""
    state = engines()
    results: SearchResults | None = None
    elastic = state.elastic_ready()
    if elastic is not None:
        try:
            results = elastic.search(query)
            state.mark_up()
        except SearchUnavailable as exc:
            state.mark_down(str(exc))
    fallback = state.elastic is not None and results is None
    if results is None:
        results = database_index(session).search(query)
        if fallback:
            log.info("search: answered from the %s index (Elasticsearch down)", results.engine)
    return SearchPage(
        items=_public_needs(session, [hit.need_id for hit in results.hits]),
        total=results.total,
        page=results.page,
        per_page=results.per_page,
        facets=results.facets,
        distances={h.need_id: h.distance_km for h in results.hits if h.distance_km is not None},
        engine=results.engine,
        fallback=fallback,
    )


def _public_needs(session: Session, ids: list[int]) -> list[Need]:
    """The needs in the order given. One query; a need that stopped being public since
    the index last heard of it (Elasticsearch lags a moment) is left out."""
    if not ids:
        return []
    found = {need.id: need for need in session.scalars(select(Need).where(Need.id.in_(ids)))}
    return [found[i] for i in ids if i in found and found[i].is_public]
