"""Build app/places/data/guangdong.csv from the cpca package's adcodes.csv.

Build-time only: needs the ``cpca`` package (for its data file) and
``pypinyin`` (for English names). The app itself reads just the generated CSV.

    .venv/bin/python scripts/build_gazetteer.py

Source data: cpca's ``resources/adcodes.csv`` (MIT licence,
https://github.com/DQinYuan/chinese_province_city_area_mapper), whose
coordinates are GCJ-02; they are converted to WGS-84 here.
"""

import csv
import importlib.util
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pypinyin import Style, lazy_pinyin

REPO_ROOT = Path(__file__).resolve().parent.parent
COORDS_MODULE = REPO_ROOT / "app" / "places" / "coords.py"


def _load_gcj02_to_wgs84() -> Callable[[float, float], tuple[float, float]]:
    # coords.py is loaded by path rather than as ``app.places.coords`` because
    # importing the ``app`` package runs app/__init__.py, which pulls in Flask,
    # SQLAlchemy and the rest of the web stack; this tool needs none of it.
    spec = importlib.util.spec_from_file_location("_gazetteer_coords", COORDS_MODULE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {COORDS_MODULE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.gcj02_to_wgs84


gcj02_to_wgs84 = _load_gcj02_to_wgs84()

OUTPUT = REPO_ROOT / "app" / "places" / "data" / "guangdong.csv"
FIELDS = ["code", "name_zh", "name_en", "level", "parent_code", "lat", "lng"]
PROVINCE_CODE = "440000"

# pypinyin picks the wrong reading of a polyphonic character in these place
# names; the official romanisations are pinned here by the Chinese stem.
PINYIN_OVERRIDES: dict[str, list[str]] = {
    "花都": ["hua", "du"],  # 都 read dou ("all") by default
    "佛冈": ["fo", "gang"],  # 佛 read fu by default
}

# Ethnic groups named in autonomous-county titles within Guangdong.
ETHNIC_GROUPS: dict[str, str] = {
    "瑶族": "Yao",
    "壮族": "Zhuang",
    "畲族": "She",
}

# Suffix of a county-level name -> English designation.
DISTRICT_SUFFIXES: dict[str, str] = {
    "区": "District",
    "县": "County",
    "市": "City",
}


def romanise(stem: str) -> str:
    """Hanyu Pinyin without tones, capitalised, with the standard apostrophe.

    The apostrophe goes before a non-initial syllable that starts with a vowel,
    which is what distinguishes e.g. Yun'an (云安) from Yunan (郁南).
    """
    syllables = PINYIN_OVERRIDES.get(stem) or lazy_pinyin(stem, style=Style.NORMAL)
    text = syllables[0]
    for syllable in syllables[1:]:
        text += ("'" if syllable[0] in "aoe" else "") + syllable
    return text.capitalize()


def ethnic_english(prefix: str) -> str:
    """'壮族瑶族' -> 'Zhuang and Yao'."""
    names = []
    rest = prefix
    while rest:
        for zh, en in ETHNIC_GROUPS.items():
            if rest.startswith(zh):
                names.append(en)
                rest = rest[len(zh) :]
                break
        else:
            raise ValueError(f"unknown ethnic group in {prefix!r}")
    return " and ".join(names)


def district_english(name_zh: str) -> str:
    """English name for a county-level unit, e.g. 天河区 -> 'Tianhe District'."""
    if name_zh.endswith("自治县"):
        # e.g. 连山壮族瑶族自治县: place stem, then one or more ethnic groups.
        head = name_zh[: -len("自治县")]
        split = min((i for zh in ETHNIC_GROUPS if (i := head.find(zh)) > 0), default=-1)
        if split < 0:
            raise ValueError(f"unknown ethnic group in {name_zh!r}")
        stem, ethnic = head[:split], head[split:]
        return f"{romanise(stem)} {ethnic_english(ethnic)} Autonomous County"
    suffix = name_zh[-1]
    designation = DISTRICT_SUFFIXES[suffix]
    stem = name_zh[:-1]
    # A one-character stem (汕尾 城区) is not a name on its own, so the whole
    # name is romanised: 'Chengqu District', as it is officially written.
    if len(stem) < 2:
        stem = name_zh
    return f"{romanise(stem)} {designation}"


def city_english(name_zh: str) -> str:
    """'广州市' -> 'Guangzhou'."""
    return romanise(name_zh.removesuffix("市"))


def province_english(name_zh: str) -> str:
    """'广东省' -> 'Guangdong'."""
    return romanise(name_zh.removesuffix("省"))


def level_of(code: str) -> str:
    """Classify a 6-digit adcode by its trailing zeros."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "district"


def read_source() -> list[dict[str, str]]:
    """Rows of cpca's adcodes.csv (columns adcode,name,longitude,latitude)."""
    source = resources.files("cpca") / "resources" / "adcodes.csv"
    with source.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def build_rows(source: list[dict[str, str]]) -> list[dict[str, str]]:
    """Select Guangdong's province/city/county rows and convert them."""
    rows = []
    for record in source:
        full_code, name_zh = record["adcode"], record["name"]
        code = full_code[:6]
        if not code.startswith("44"):
            continue
        # cpca uses 12-digit codes; anything below county level is dropped.
        if full_code[6:].strip("0"):
            continue
        # "市辖区" rows (xxxx01) are statistical placeholders without a place.
        if name_zh == "市辖区":
            continue
        if not record["latitude"] or not record["longitude"]:
            raise ValueError(f"{code} {name_zh} has no coordinates")
        level = level_of(code)
        if level == "province":
            parent_code, name_en = "", province_english(name_zh)
        elif level == "city":
            parent_code, name_en = PROVINCE_CODE, city_english(name_zh)
        else:
            parent_code, name_en = code[:4] + "00", district_english(name_zh)
        lat, lng = gcj02_to_wgs84(float(record["latitude"]), float(record["longitude"]))
        rows.append(
            {
                "code": code,
                "name_zh": name_zh,
                "name_en": name_en,
                "level": level,
                "parent_code": parent_code,
                "lat": f"{lat:.6f}",
                "lng": f"{lng:.6f}",
            }
        )
    rows.sort(key=lambda row: row["code"])
    check(rows)
    return rows


def check(rows: list[dict[str, str]]) -> None:
    """Fail the build on structural problems rather than ship a broken file."""
    codes = [row["code"] for row in rows]
    if len(codes) != len(set(codes)):
        raise ValueError("duplicate adcodes")
    if codes.count(PROVINCE_CODE) != 1:
        raise ValueError("province row missing")
    cities = {row["code"] for row in rows if row["level"] == "city"}
    for row in rows:
        if row["level"] == "district" and row["parent_code"] not in cities:
            raise ValueError(f"{row['code']} has unknown parent {row['parent_code']}")


def write(rows: list[dict[str, str]], path: Path = OUTPUT) -> None:
    """Write the gazetteer CSV with a stable layout (UTF-8, LF line endings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rows = build_rows(read_source())
    write(rows)
    counts = {
        level: sum(row["level"] == level for row in rows)
        for level in ("province", "city", "district")
    }
    print(f"wrote {len(rows)} rows to {OUTPUT.relative_to(REPO_ROOT)}: {counts}")


if __name__ == "__main__":
    main()
