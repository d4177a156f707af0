"""What a search asks and what it answers: plain values shared by every backend."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from search.geo import Point
from search.text import segment

# The states of a need after verification; only these are ever indexed. A need's "open"
# state is the one in which people can still help.
OPEN_STATE = "published"
PUBLIC_STATES = frozenset({"published", "claimed", "delivered", "confirmed", "closed"})
KINDS = frozenset({"micro_wish", "farm_help", "repair"})

DEFAULT_RADIUS_KM = 50.0
MAX_RADIUS_KM = 500.0
MAX_PER_PAGE = 100
MAX_PAGE = 10_000


class Sort(enum.StrEnum):
    RELEVANCE = "relevance"
    DISTANCE = "distance"
    URGENCY = "urgency"
    NEWEST = "newest"


class QueryError(ValueError):
    """A search that cannot be run as asked; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SearchUnavailable(RuntimeError):
    """The engine cannot answer (down, timing out, index missing); callers fall back."""


@dataclass(frozen=True)
class SearchQuery:
    """One search.

    Which needs: a search (words or a place) finds the open needs, the ones people can
    still help with; browsing (neither words nor place) lists every verified need, open
    ones first. ``states`` overrides both, and may name any public state (a donor looking
    for fulfilled wishes asks for ``confirmed``).

    Order: ``relevance`` with words, else ``distance`` with a place, else ``newest``. Open
    needs always come before the others when several states are listed.
    """

    text: str = ""
    kind: str | None = None
    category: str | None = None
    city: str | None = None
    district: str | None = None
    states: frozenset[str] | None = None
    near: Point | None = None
    radius_km: float | None = None
    sort: Sort | None = None
    page: int = 1
    per_page: int = 20
    words: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(segment(self.text)))
        if self.states is not None and not self.states <= PUBLIC_STATES:
            raise QueryError("status", "Only verified (public) states can be searched.")
        if self.near is not None and not (
            math.isfinite(self.near.lat)
            and math.isfinite(self.near.lng)
            and -90 <= self.near.lat <= 90
            and -180 <= self.near.lng <= 180
        ):
            raise QueryError("lat", "The point must be a valid latitude and longitude.")
        if self.radius_km is not None:
            if self.near is None:
                raise QueryError("radius_km", "A radius needs a point (lat and lng).")
            if not (math.isfinite(self.radius_km) and 0 < self.radius_km <= MAX_RADIUS_KM):
                raise QueryError(
                    "radius_km", f"The radius must be more than 0 and at most {MAX_RADIUS_KM:g} km."
                )
        if self.sort is Sort.DISTANCE and self.near is None:
            raise QueryError("sort", "Sorting by distance needs a point (lat and lng).")
        if not 1 <= self.page <= MAX_PAGE:
            raise QueryError("page", f"The page must be between 1 and {MAX_PAGE}.")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise QueryError("per_page", f"At most {MAX_PER_PAGE} results per page.")

    @property
    def is_search(self) -> bool:
        return bool(self.words) or self.near is not None

    @property
    def effective_states(self) -> frozenset[str]:
        if self.states is not None:
            return self.states
        return frozenset({OPEN_STATE}) if self.is_search else PUBLIC_STATES

    @property
    def effective_sort(self) -> Sort:
        if self.sort is not None and not (self.sort is Sort.RELEVANCE and not self.words):
            return self.sort
        if self.words:
            return Sort.RELEVANCE
        return Sort.DISTANCE if self.near is not None else Sort.NEWEST

    @property
    def radius(self) -> float:
        """The radius in km (the default when a point comes without one)."""
        return self.radius_km if self.radius_km is not None else DEFAULT_RADIUS_KM

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class NeedDocument:
    """What the index knows of a need: public fields only.

    There is no field for a household's name, ID number, phone or address, nor for its
    exact location: ``lat``/``lng`` are the need's public, approximate location.
    """

    need_id: int
    kind: str
    category: str
    state: str
    district_code: str
    city_code: str
    urgency: int  # 0 low .. 3 critical
    published_at: datetime | None
    lat: float
    lng: float
    title: str
    story: str
    details: str = ""  # the item, the farm task, the kind's name
    places: str = ""  # district and city names, so 天河 finds needs in 天河区

    @property
    def is_open(self) -> bool:
        return self.state == OPEN_STATE

    @property
    def published_ts(self) -> float:
        """Seconds since the epoch (0 when never published): sortable on every engine."""
        if self.published_at is None:
            return 0.0
        moment = self.published_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    def title_words(self) -> str:
        return " ".join(segment(self.title, for_index=True))

    def body_words(self) -> str:
        text = " ".join(part for part in (self.story, self.details, self.places) if part)
        return " ".join(segment(text, for_index=True))


@dataclass(frozen=True)
class Hit:
    need_id: int
    distance_km: float | None = None


@dataclass(frozen=True)
class Facets:
    """Counts of the matching needs (all pages) by kind and by district."""

    kind: dict[str, int] = field(default_factory=dict)
    district: dict[str, int] = field(default_factory=dict)

    @classmethod
    def count(cls, pairs: Iterable[tuple[str, str, int]]) -> Facets:
        """From (kind, district_code, n) groups."""
        kinds: dict[str, int] = {}
        districts: dict[str, int] = {}
        for kind, district, n in pairs:
            kinds[kind] = kinds.get(kind, 0) + n
            districts[district] = districts.get(district, 0) + n
        return cls(_by_count(kinds), _by_count(districts))


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class SearchResults:
    hits: list[Hit]
    total: int
    facets: Facets
    page: int
    per_page: int
    engine: str


# Told how many more documents were indexed (``click.progressbar``'s ``update``).
ProgressCallback = Callable[[int], None]


class SearchBackend(Protocol):
    """What every engine does. Database backends work on a SQLAlchemy connection, inside
    the caller's transaction; the Elasticsearch backend talks to its cluster."""

    name: str

    def search(self, query: SearchQuery) -> SearchResults:
        """One page of matching needs, the total and the facets."""
        ...

    def upsert(self, documents: Sequence[NeedDocument]) -> None:
        """Add or replace these documents."""
        ...

    def remove(self, need_ids: Sequence[int]) -> None:
        """Drop these needs from the index (missing ones are fine)."""
        ...

    def rebuild(
        self, documents: Iterable[NeedDocument], progress: ProgressCallback | None = None
    ) -> int:
        """Replace the whole index with ``documents``; returns how many were indexed."""
        ...

    def indexed(self) -> dict[int, str]:
        """Every indexed need id, with the state the index holds for it."""
        ...

    def stored_text(self) -> str:
        """Everything the index stores, as text (for checking what it holds)."""
        ...
