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


@dataclass
class Located:
    """A candidate with its spherical distance, and its exact one once needed."""

    sphere: float
    exact: float | None = None


def within(
    points: Sequence[T], where: Callable[[T], Point], centre: Point, radius_km: float
) -> list[tuple[T, Located]]:
    """The points whose geodesic distance from ``centre`` is at most ``radius_km``.

    The exact distance is computed only for points near the edge, where the spherical
    one could be on the wrong side of it.
    """
    inside: list[tuple[T, Located]] = []
    sure_in = radius_km / (1 + SPHERE_ERROR)
    sure_out = radius_km / (1 - SPHERE_ERROR)
    for point in points:
        spot = where(point)
        located = Located(sphere_km(centre, spot))
        if located.sphere > sure_out:
            continue
        if located.sphere > sure_in:
            located.exact = geodesic_km(centre, spot)
            if located.exact > radius_km:
                continue
        inside.append((point, located))
    return inside


def exact_km(located: Located, centre: Point, spot: Point) -> float:
    """The geodesic distance of a located point, computed once."""
    if located.exact is None:
        located.exact = geodesic_km(centre, spot)
    return located.exact


def nearest(
    items: Sequence[tuple[T, Located]],
    where: Callable[[T], Point],
    tie: Callable[[T], int],
    centre: Point,
    count: int,
) -> list[tuple[T, Located]]:
    """The ``count`` items nearest ``centre`` by geodesic distance, nearest first (ties by
    ``tie``), computing the exact distance only for the items that could be among them.

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
        exact_km(located, centre, where(item))
    by_sphere.sort(key=lambda item: (item[1].exact, tie(item[0])))
    return by_sphere[:count]
