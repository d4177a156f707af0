"""Distances for search: exact geodesic kilometres, found quickly.

Every distance a person sees, and every "within R km" decision of the database backends,
is the geodesic distance on the WGS-84 ellipsoid (geopy's ``geodesic``, computed by the
geographiclib it wraps). That costs about 30 µs a pair, so a cheap spherical distance
decides first wherever it cannot be wrong: it is never more than 0.6% off the geodesic
(the Earth's flattening is 1/298), and only points within ``SPHERE_ERROR`` of a
boundary get the exact formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from geographiclib.geodesic import Geodesic

T = TypeVar("T")

EARTH_MEAN_RADIUS_KM = 6371.0088
# |haversine / geodesic - 1| stays below 0.0057 anywhere on Earth; 1% leaves room to spare.
SPHERE_ERROR = 0.01
_WGS84 = Geodesic.WGS84  # the ellipsoid geopy's ``geodesic`` uses by default
_KM_PER_DEGREE_LAT_MIN = 110.57  # a degree of latitude is 110.57 km at the equator, more elsewhere


@dataclass(frozen=True)
class Point:
    """A WGS-84 point in degrees."""

    lat: float
    lng: float


@dataclass(frozen=True)
class Box:
    """A latitude/longitude rectangle, south-west to north-east."""

    south: float
    west: float
    north: float
    east: float


def geodesic_km(a: Point, b: Point) -> float:
    """Exact distance on the WGS-84 ellipsoid, in km (what geopy's ``geodesic`` returns)."""
    result = _WGS84.Inverse(a.lat, a.lng, b.lat, b.lng, Geodesic.DISTANCE)
    return float(result["s12"]) / 1000.0


def sphere_km(a: Point, b: Point) -> float:
    """Great-circle distance on the mean sphere, in km: fast, within 0.6% of the geodesic."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    d_lat = lat2 - lat1
    d_lng = math.radians(b.lng - a.lng)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lng / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(centre: Point, radius_km: float) -> Box:
    """A rectangle that holds every point within ``radius_km`` (geodesic) of ``centre``.

    Generous by a few percent: what it lets through is filtered exactly afterwards.
    """
    reach = radius_km * (1 + 2 * SPHERE_ERROR)
    d_lat = reach / _KM_PER_DEGREE_LAT_MIN
    south, north = max(-90.0, centre.lat - d_lat), min(90.0, centre.lat + d_lat)
    widest = max(abs(south), abs(north))
    if widest >= 89.0:
        return Box(south, -180.0, north, 180.0)
    d_lng = reach / (_KM_PER_DEGREE_LAT_MIN * math.cos(math.radians(widest)))
    if d_lng >= 180.0:
        return Box(south, -180.0, north, 180.0)
    # Guangdong is far from the antimeridian; a box crossing it is simply clipped wider.
    return Box(south, max(-180.0, centre.lng - d_lng), north, min(180.0, centre.lng + d_lng))


# Grid cells, so that an inverted index can hold places as well as words (PostgreSQL's GIN
# index over the words and the cells finds "these words in these cells" in one lookup).
# A point is filed under its 0.1 degree cell and its 1 degree cell; a search asks for the
# cells its box touches, in the finest size that keeps the list short.
CELL_SIZES = (0.1, 1.0)
_MAX_CELLS = 64


def _cell_key(level: int, lat: float, lng: float) -> int:
    size = CELL_SIZES[level]
    row = math.floor(lat / size) + 1000  # 0..1900 at level 0, small numbers above
    column = math.floor(lng / size) + 2000  # 200..3800
    return (level + 1) * 100_000_000 + row * 10_000 + column


def cell_keys(lat: float, lng: float) -> list[int]:
    """The cells a point is filed under, one per size."""
    return [_cell_key(level, lat, lng) for level in range(len(CELL_SIZES))]


def cells_covering(box: Box) -> list[int]:
    """Cells of one size that together cover ``box``."""
    for level, size in enumerate(CELL_SIZES):
        rows = range(math.floor(box.south / size), math.floor(box.north / size) + 1)
        columns = range(math.floor(box.west / size), math.floor(box.east / size) + 1)
        if len(rows) * len(columns) <= _MAX_CELLS or level == len(CELL_SIZES) - 1:
            return [
                _cell_key(level, row * size + size / 2, column * size + size / 2)
                for row in rows
                for column in columns
            ]
    raise AssertionError("unreachable")


@dataclass(slots=True)
class Located:
    """A candidate with its spherical distance, and its exact one once needed."""

    sphere: float
    exact: float | None = None


class Ruler:
    """Geodesic distances from one centre. Public locations are grid-cell centres, so
    many needs share a point: each point is measured once per search."""

    def __init__(self, centre: Point) -> None:
        self.centre = centre
        self._measured: dict[tuple[float, float], float] = {}

    def exact(self, lat: float, lng: float) -> float:
        key = (lat, lng)
        km = self._measured.get(key)
        if km is None:
            km = self._measured[key] = geodesic_km(self.centre, Point(lat, lng))
        return km

    def of(self, located: Located, lat: float, lng: float) -> float:
        """The exact distance of a located point, computed once."""
        if located.exact is None:
            located.exact = self.exact(lat, lng)
        return located.exact


def within(
    points: Sequence[T], where: Callable[[T], tuple[float, float]], ruler: Ruler, radius_km: float
) -> list[tuple[T, Located]]:
    """The points whose geodesic distance from the ruler's centre is at most
    ``radius_km`` (``where`` gives a point's (lat, lng)).

    The exact distance is computed only for points near the edge, where the spherical
    one could be on the wrong side of it. This loop runs for every candidate of a search,
    so the haversine is written out here rather than called.
    """
    inside: list[tuple[T, Located]] = []
    sure_in = radius_km / (1 + SPHERE_ERROR)
    sure_out = radius_km / (1 - SPHERE_ERROR)
    lat0, lng0 = math.radians(ruler.centre.lat), math.radians(ruler.centre.lng)
    cos_lat0 = math.cos(lat0)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    for point in points:
        lat, lng = where(point)
        lat1 = radians(lat)
        h = sin((lat1 - lat0) / 2) ** 2 + cos_lat0 * cos(lat1) * sin((radians(lng) - lng0) / 2) ** 2
        sphere = 2 * EARTH_MEAN_RADIUS_KM * asin(min(1.0, sqrt(h)))
        if sphere > sure_out:
            continue
        located = Located(sphere)
        if sphere > sure_in and ruler.of(located, lat, lng) > radius_km:
            continue
        inside.append((point, located))
    return inside


def nearest(
    items: Sequence[tuple[T, Located]],
    where: Callable[[T], tuple[float, float]],
    tie: Callable[[T], int],
    ruler: Ruler,
    count: int,
) -> list[tuple[T, Located]]:
    """The ``count`` items nearest the ruler's centre by geodesic distance, nearest first
    (ties by ``tie``), computing the exact distance only for the items that could be
    among them.

    The ``count``-th item by spherical distance, s, lies at most s(1+e) away; an item whose
    spherical distance exceeds s(1+e)/(1-e) lies farther than that, so it cannot be among
    the nearest ``count``.
    """
    if count <= 0:
        return []
    by_sphere = sorted(items, key=lambda item: item[1].sphere)
    if count < len(by_sphere):
        limit = by_sphere[count - 1][1].sphere * (1 + SPHERE_ERROR) / (1 - SPHERE_ERROR)
        by_sphere = [item for item in by_sphere if item[1].sphere <= limit + 1e-9]
    for item, located in by_sphere:
        ruler.of(located, *where(item))
    by_sphere.sort(key=lambda item: (item[1].exact, tie(item[0])))
    return by_sphere[:count]
