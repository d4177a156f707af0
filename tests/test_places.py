"""Tests for the Guangdong gazetteer and the GCJ-02 <-> WGS-84 conversion."""

import csv
import math

import pytest

from app.places import gazetteer
from app.places.coords import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02
from app.places.gazetteer import Place

# Generous box around Guangdong's land area and islands.
LAT_RANGE = (20.1, 25.6)
LNG_RANGE = (109.6, 117.4)

EXPECTED_CITIES = {
    "440100": ("广州市", "Guangzhou"),
    "440200": ("韶关市", "Shaoguan"),
    "440300": ("深圳市", "Shenzhen"),
    "440400": ("珠海市", "Zhuhai"),
    "440500": ("汕头市", "Shantou"),
    "440600": ("佛山市", "Foshan"),
    "440700": ("江门市", "Jiangmen"),
    "440800": ("湛江市", "Zhanjiang"),
    "440900": ("茂名市", "Maoming"),
    "441200": ("肇庆市", "Zhaoqing"),
    "441300": ("惠州市", "Huizhou"),
    "441400": ("梅州市", "Meizhou"),
    "441500": ("汕尾市", "Shanwei"),
    "441600": ("河源市", "Heyuan"),
    "441700": ("阳江市", "Yangjiang"),
    "441800": ("清远市", "Qingyuan"),
    "441900": ("东莞市", "Dongguan"),
    "442000": ("中山市", "Zhongshan"),
    "445100": ("潮州市", "Chaozhou"),
    "445200": ("揭阳市", "Jieyang"),
    "445300": ("云浮市", "Yunfu"),
}


def _in_guangdong(lat: float, lng: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]


# --- data file ---------------------------------------------------------------


def test_csv_header_and_plain_layout() -> None:
    with gazetteer.DATA_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["code", "name_zh", "name_en", "level", "parent_code", "lat", "lng"]
    for row in rows[1:]:
        assert len(row[0]) == 6 and row[0].isdigit()
        # Coordinates are written with exactly 6 decimals.
        assert len(row[5].split(".")[1]) == 6 and len(row[6].split(".")[1]) == 6


def test_no_placeholder_or_non_guangdong_rows() -> None:
    places = [gazetteer.province(), *gazetteer.cities(), *gazetteer.districts()]
    assert all(p.code.startswith("44") for p in places)
    assert all(p.name_zh != "市辖区" for p in places)


# --- province and cities -----------------------------------------------------


def test_province() -> None:
    prov = gazetteer.province()
    assert prov == gazetteer.get("440000")
    assert (prov.name_zh, prov.name_en, prov.level, prov.parent_code) == (
        "广东省",
        "Guangdong",
        "province",
        None,
    )


def test_all_21_cities_with_names() -> None:
    cities = gazetteer.cities()
    assert len(cities) == 21
    assert [c.code for c in cities] == sorted(EXPECTED_CITIES)
    for city in cities:
        assert (city.name_zh, city.name_en) == EXPECTED_CITIES[city.code]
        assert city.level == "city"
        assert city.parent_code == "440000"


def test_get_unknown_returns_none() -> None:
    assert gazetteer.get("110000") is None
    assert gazetteer.get("") is None


# --- districts ---------------------------------------------------------------


def test_tianhe() -> None:
    tianhe = gazetteer.get("440106")
    assert tianhe is not None
    assert (tianhe.name_zh, tianhe.name_en) == ("天河区", "Tianhe District")
    assert tianhe.level == "district"
    assert tianhe.parent_code == "440100"


@pytest.mark.parametrize(
    ("code", "name_en"),
    [
        ("440117", "Conghua District"),
        ("440114", "Huadu District"),  # polyphonic 都 pinned to "du"
        ("440222", "Shixing County"),
        ("441882", "Lianzhou City"),
        ("441821", "Fogang County"),  # polyphonic 佛 pinned to "fo"
        ("440306", "Bao'an District"),
        ("445303", "Yun'an District"),
        ("445322", "Yunan County"),
        ("441502", "Chengqu District"),
        ("441825", "Lianshan Zhuang and Yao Autonomous County"),
    ],
)
def test_english_names(code: str, name_en: str) -> None:
    place = gazetteer.get(code)
    assert place is not None
    assert place.name_en == name_en


def test_name_by_locale() -> None:
    tianhe = gazetteer.get("440106")
    assert tianhe is not None
    assert tianhe.name("en") == "Tianhe District"
    assert tianhe.name("en_US") == "Tianhe District"
    assert tianhe.name("zh_CN") == "天河区"
    assert tianhe.name(None) == "天河区"


def test_district_counts_and_order() -> None:
    all_districts = gazetteer.districts()
    codes = [d.code for d in all_districts]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    # 119 county-level units in the source data plus Dongguan and Zhongshan
    # standing in for themselves.
    assert len(all_districts) == 121
    assert sum(len(gazetteer.districts(c.code)) for c in gazetteer.cities()) == len(all_districts)


def test_every_district_point_is_in_guangdong() -> None:
    for place in [gazetteer.province(), *gazetteer.cities(), *gazetteer.districts()]:
        assert _in_guangdong(place.lat, place.lng), place


def test_cities_without_county_level_are_their_own_district() -> None:
    for code in ("441900", "442000"):
        assert gazetteer.districts(code) == [gazetteer.get(code)]
        assert gazetteer.is_district(code)
        assert gazetteer.city_of(code) == gazetteer.get(code)


def test_districts_of_a_city() -> None:
    guangzhou = gazetteer.districts("440100")
    assert len(guangzhou) == 11
    assert all(d.parent_code == "440100" for d in guangzhou)
    assert gazetteer.districts("999900") == []


def test_is_district() -> None:
    assert gazetteer.is_district("440106")
    assert not gazetteer.is_district("440100")
    assert not gazetteer.is_district("440000")
    assert not gazetteer.is_district("440101")  # 市辖区 placeholder
    assert all(gazetteer.is_district(d.code) for d in gazetteer.districts())


def test_city_of() -> None:
    assert gazetteer.city_of("440106").code == "440100"
    assert gazetteer.city_of("441882").code == "441800"
    assert gazetteer.city_of("440300").code == "440300"
    with pytest.raises(KeyError):
        gazetteer.city_of("999999")
    with pytest.raises(ValueError):
        gazetteer.city_of("440000")


# --- covers ------------------------------------------------------------------


def test_covers_province_scope() -> None:
    assert gazetteer.covers("440000", "440000")
    assert gazetteer.covers("440000", "440300")
    assert gazetteer.covers("440000", "440106")
    assert all(gazetteer.covers("440000", d.code) for d in gazetteer.districts())
    assert not gazetteer.covers("440000", "110101")


def test_covers_city_scope() -> None:
    assert gazetteer.covers("440100", "440100")
    assert gazetteer.covers("440100", "440106")
    assert not gazetteer.covers("440100", "440305")  # Nanshan, Shenzhen
    assert not gazetteer.covers("440100", "440000")
    assert not gazetteer.covers("440100", "440300")
    assert gazetteer.covers("441900", "441900")


def test_covers_district_scope() -> None:
    assert gazetteer.covers("440106", "440106")
    assert not gazetteer.covers("440106", "440105")
    assert not gazetteer.covers("440106", "440100")
    assert not gazetteer.covers("440106", "440000")


def test_covers_unknown_codes() -> None:
    assert not gazetteer.covers("999999", "440106")
    assert not gazetteer.covers("440100", "999999")


# --- coordinates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (23.13, 113.26),
        (22.54, 114.06),
        (21.27, 110.36),
        (25.13, 113.35),
        (39.9, 116.4),
        (45.0, 123.0),
    ],
)
def test_gcj_round_trip(lat: float, lng: float) -> None:
    gcj = wgs84_to_gcj02(lat, lng)
    back = gcj02_to_wgs84(*gcj)
    assert abs(back[0] - lat) < 1e-5
    assert abs(back[1] - lng) < 1e-5
    # The iteration in fact converges far tighter than required.
    assert max(abs(back[0] - lat), abs(back[1] - lng)) < 1e-8


def test_gcj_to_wgs_reference_value() -> None:
    # Independent reference: hujiulong/gcoord's test suite expects
    # GCJ-02 (45, 123) -> WGS-84 (44.99804071, 122.99395597).
    lat, lng = gcj02_to_wgs84(45.0, 123.0)
    assert lat == pytest.approx(44.99804071, abs=5e-6)
    assert lng == pytest.approx(122.99395597, abs=5e-6)


def test_gcj_offset_near_guangzhou_is_a_few_hundred_metres() -> None:
    wgs = (23.1291, 113.2644)
    gcj = wgs84_to_gcj02(*wgs)
    # Around Guangzhou GCJ-02 sits south-east of WGS-84 (~-0.0027 deg lat,
    # ~+0.0053 deg lng), i.e. roughly 600 m away.
    assert gcj[0] < wgs[0] and gcj[1] > wgs[1]
    assert 300 < gazetteer.distance_km(wgs, gcj) * 1000 < 800


def test_outside_china_is_identity() -> None:
    assert out_of_china(51.5, -0.12)
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)
    assert gcj02_to_wgs84(51.5, -0.12) == (51.5, -0.12)


def test_distance_guangzhou_shenzhen() -> None:
    gz, sz = gazetteer.get("440100"), gazetteer.get("440300")
    assert gz is not None and sz is not None
    km = gazetteer.distance_km((gz.lat, gz.lng), (sz.lat, sz.lng))
    assert 100 <= km <= 110
    assert gazetteer.distance_km((gz.lat, gz.lng), (gz.lat, gz.lng)) == 0


# --- snap_to_grid ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lng", "grid"),
    [
        (23.12934, 113.26438, 0.05),
        (22.5, 114.0, 0.05),
        (23.1, 113.35, 0.05),
        (21.2701, 110.3561, 0.01),
        (24.8, 113.6, 0.1),
    ],
)
def test_snap_to_grid_is_deterministic_and_close(lat: float, lng: float, grid: float) -> None:
    snapped = gazetteer.snap_to_grid(lat, lng, grid)
    assert snapped == gazetteer.snap_to_grid(lat, lng, grid)
    assert snapped == (round(snapped[0], 6), round(snapped[1], 6))
    half_diagonal = grid * math.sqrt(2) / 2
    assert math.hypot(snapped[0] - lat, snapped[1] - lng) <= half_diagonal + 1e-9


def test_snap_to_grid_cell_centres() -> None:
    assert gazetteer.snap_to_grid(23.12934, 113.26438) == (23.125, 113.275)
    # A point on a cell boundary belongs to the cell above it (half-open cells),
    # despite 23.1 / 0.05 being 461.999... in binary floating point.
    assert gazetteer.snap_to_grid(23.1, 113.35) == (23.125, 113.375)
    # Points in the same cell snap to the same centre.
    assert gazetteer.snap_to_grid(23.101, 113.351) == gazetteer.snap_to_grid(23.149, 113.399)
    assert gazetteer.snap_to_grid(-0.01, -0.01) == (-0.025, -0.025)


def test_snap_to_grid_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        gazetteer.snap_to_grid(23.1, 113.3, 0)
    with pytest.raises(ValueError):
        gazetteer.snap_to_grid(math.nan, 113.3)


def test_place_is_frozen() -> None:
    tianhe = gazetteer.get("440106")
    assert isinstance(tianhe, Place)
    with pytest.raises(AttributeError):
        tianhe.name_zh = "x"  # type: ignore[misc]
