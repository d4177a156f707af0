"""Conversion between WGS-84 and GCJ-02 ("Mars") coordinates.

GCJ-02 is the obfuscated datum that Chinese map providers (and the cpca
gazetteer) publish coordinates in. The forward transform below is the widely
reproduced public formula; it has no closed-form inverse, so the inverse is
solved iteratively. Every function takes and returns ``(lat, lng)`` in degrees.
"""

import math

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323

# Iteration stops once the round trip lands this close (degrees) to the target;
# far below the 1e-6 deg (~0.1 m) the gazetteer is rounded to.
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 50


def out_of_china(lat: float, lng: float) -> bool:
    """True when the point is outside the rough box where GCJ-02 applies."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84, in degrees, for a WGS-84 point."""
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Convert a WGS-84 point to GCJ-02 (identity outside China)."""
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _offset(lat, lng)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Convert a GCJ-02 point to WGS-84 (identity outside China).

    Fixed-point iteration: guess a WGS point, push it forward, and shift the
    guess by the residual. The offset varies slowly, so this converges to
    sub-millimetre accuracy in a handful of steps.
    """
    if out_of_china(lat, lng):
        return lat, lng
    wgs_lat, wgs_lng = lat, lng
    for _ in range(_MAX_ITERATIONS):
        gcj_lat, gcj_lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
        err_lat, err_lng = gcj_lat - lat, gcj_lng - lng
        if max(abs(err_lat), abs(err_lng)) < _TOLERANCE_DEG:
            break
        wgs_lat -= err_lat
        wgs_lng -= err_lng
    else:
        raise ArithmeticError(f"GCJ-02 inverse did not converge for ({lat}, {lng})")
    return wgs_lat, wgs_lng
