"""Rebuild regions.csv (财政区划) from the NBS division codes of modood/Administrative-divisions-of-China.

Usage: python -m schema.reference.build_regions [SOURCE_DIR]

SOURCE_DIR holds provinces.csv, cities.csv, areas.csv and streets.csv of that project's `dist/` folder
(default: /work/shared/data/divisions). The output is deterministic: same input, same bytes. The service
never runs this script; it reads only the regions.csv it writes.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

DEFAULT_SOURCE = Path("/work/shared/data/divisions")
OUTPUT = Path(__file__).with_name("regions.csv")
HEADER = ("mof_div_code", "mof_div_name", "parent_code", "level_no")

# Only Henan's townships are shipped: the full national list (~41k rows) is not needed by the pilot.
TOWNSHIP_PROVINCES = frozenset({"41"})

# City-level entries that only group counties for statistics and are not a government of their own.
GROUPING_CITY_NAMES = frozenset({"市辖区", "县"})
GROUPING_CITY_SUFFIX = "直辖县级行政区划"  # 省直辖… / 自治区直辖…

Row = tuple[str, str, str, int]


def is_grouping_city(name: str) -> bool:
    return name in GROUPING_CITY_NAMES or name.endswith(GROUPING_CITY_SUFFIX)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{key: value.strip() for key, value in row.items()} for row in csv.DictReader(fh)]


def build(source: Path) -> list[Row]:
    provinces = _read(source / "provinces.csv")
    cities = _read(source / "cities.csv")
    areas = _read(source / "areas.csv")
    streets = _read(source / "streets.csv")

    rows: list[Row] = [(p["code"] + "0000000", p["name"], "", 1) for p in provinces]

    city_names = {c["code"]: c["name"] for c in cities}
    areas_per_city: dict[str, int] = {}
    for a in areas:
        areas_per_city[a["cityCode"]] = areas_per_city.get(a["cityCode"], 0) + 1

    # A city without counties (东莞, 中山, 儋州, 嘉峪关) is listed once more as its own only county; that
    # mirror is not a region of its own (441900 would even collide with 4419 → 441900000), so its
    # townships, if any, hang directly under the city.
    mirrored: dict[str, str] = {}
    for c in cities:
        if not is_grouping_city(c["name"]):
            rows.append((c["code"] + "00000", c["name"], c["provinceCode"] + "0000000", 2))
    for a in areas:
        city = a["cityCode"]
        if areas_per_city[city] == 1 and a["name"] == city_names[city]:
            mirrored[a["code"]] = city + "00000"
            continue
        # Counties of a grouping (市辖区, 县, 省直辖县级行政区划) belong to the province directly.
        parent = a["provinceCode"] + "0000000" if is_grouping_city(city_names[city]) else city + "00000"
        rows.append((a["code"] + "000", a["name"], parent, 3))
    for s in streets:
        if s["provinceCode"] in TOWNSHIP_PROVINCES:
            parent = mirrored.get(s["areaCode"], s["areaCode"] + "000")
            rows.append((s["code"], s["name"], parent, 4))

    rows.sort(key=lambda r: (r[3], r[0]))
    _check(rows)
    return rows


def _check(rows: list[Row]) -> None:
    codes: dict[str, int] = {}
    for code, name, parent, level in rows:
        if len(code) != 9 or not code.isdigit():
            raise ValueError(f"bad code {code!r} ({name})")
        if code in codes:
            raise ValueError(f"duplicate code {code} ({name})")
        if parent and parent not in codes:
            raise ValueError(f"{code} ({name}): parent {parent} missing or listed after its child")
        codes[code] = level


def write(rows: list[Row], output: Path = OUTPUT) -> None:
    with output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rows = build(source)
    write(rows)
    per_level = {level: sum(1 for r in rows if r[3] == level) for level in (1, 2, 3, 4)}
    print(f"wrote {OUTPUT} with {len(rows)} regions, per level {per_level}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
