"""The demo province's finance regions: Henan (河南省) with its real cities, counties and townships.

Codes and names come from ``schema.reference`` (the shipped statistical division codes). 济源市 is a
county-level city directly under the province, so the province passes transfers to it as to a city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from schema.reference import load_regions

PROVINCE_CODE = "410000000"

#: short names used in document numbers (豫财农〔2025〕12号, 郑财农〔2025〕3号 …) and in company names
CITY_ABBREVIATION = {
    "4101": "郑",
    "4102": "汴",
    "4103": "洛",
    "4104": "平",
    "4105": "安",
    "4106": "鹤",
    "4107": "新",
    "4108": "焦",
    "4109": "濮",
    "4110": "许",
    "4111": "漯",
    "4112": "三",
    "4113": "宛",
    "4114": "商",
    "4115": "信",
    "4116": "周",
    "4117": "驻",
    "4190": "济",
}
_ZONE_MARKERS = ("开发区", "示范区", "实验区", "新区", "产业集聚区")


@dataclass(eq=False, slots=True)
class Region:
    code: str
    name: str
    level: int  # 1 province, 2 city, 3 county, 4 township
    parent: Region | None
    index: int  # position among the regions used, in generation order
    children: list[Region] = field(default_factory=list)
    county_index: int = 0  # counties: their number among all counties (for person IDs)
    rank: int = 0  # townships: their place among all their county's townships

    @property
    def code6(self) -> str:
        return self.code[:6]

    @property
    def city(self) -> Region:
        """The city a region belongs to (济源 and the province are their own city)."""
        if self.level <= 2 or self.parent is None:
            return self
        if self.level == 3:
            return self.parent if self.parent.level == 2 else self
        return self.parent.city

    @property
    def county(self) -> Region:
        return self.parent if self.level == 4 and self.parent else self

    @property
    def short(self) -> str:
        """The name without its administrative suffix, for company names: 郑州, 中牟, 济源."""
        name = self.name
        if name.startswith("济源市") and self.level == 4:
            name = name[3:]
        for suffix in ("回族区", "省", "市", "区", "县", "镇", "乡", "街道"):
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                return name[: -len(suffix)]
        return name

    @property
    def full_name(self) -> str:
        """The name agencies carry: 河南省, 郑州市, 郑州市金水区 (a district), 中牟县, 中牟县韩寺镇."""
        if self.level == 3 and self.name.endswith("区") and not self.is_zone:
            assert self.parent is not None
            if self.parent.level == 2:
                return self.parent.name + self.name
        if self.level == 4:
            assert self.parent is not None
            town = self.name[3:] if self.name.startswith("济源市") else self.name
            return self.parent.name + town
        return self.name

    @property
    def is_zone(self) -> bool:
        return self.level == 3 and any(m in self.name for m in _ZONE_MARKERS)

    @property
    def doc_prefix(self) -> str:
        """The finance bureau's document prefix stem: 豫财, 郑财, 金财, 郑航财, 韩寺财."""
        if self.level == 1:
            return "豫财"
        if self.level == 4:
            return self.short + "财"
        city_abbr = CITY_ABBREVIATION[self.code[:4]]
        if self.level == 2 or self.code.startswith("4190"):
            return city_abbr + "财"
        if self.is_zone:
            rest = self.name.removeprefix("河南").removeprefix(self.city.short).removeprefix("市")
            return city_abbr + rest[0] + "财"
        return self.short[0] + "财"


@dataclass(slots=True)
class Province:
    root: Region
    cities: list[Region]  # level 2, plus 济源 (level 3 directly under the province)
    counties: list[Region]  # every level-3 region, 济源 included
    townships: list[Region]
    all: list[Region]

    def by_code(self) -> dict[str, Region]:
        return {r.code: r for r in self.all}


def build_province(rng: random.Random, townships_per_county: int | None) -> Province:
    """Henan's regions; every city and county, and all or a sample of each county's townships.

    Township-level units coded 400–599 (state farms, scenic areas …) keep no books and are left out.
    """
    rows = [r for r in load_regions() if r.code.startswith("41")]
    by_code: dict[str, Region] = {}
    ordered: list[Region] = []
    for row in rows:  # parents precede children
        parent = by_code.get(row.parent_code) if row.parent_code else None
        region = Region(row.code, row.name, row.level_no, parent, 0)
        by_code[row.code] = region
        if parent is not None:
            parent.children.append(region)
        ordered.append(region)
    root = by_code[PROVINCE_CODE]
    kept: list[Region] = [root]
    cities: list[Region] = []
    counties: list[Region] = []
    townships: list[Region] = []
    for child in sorted(root.children, key=lambda r: r.code):
        cities.append(child)
        kept.append(child)
        county_list = [child] if child.level == 3 else sorted(child.children, key=lambda r: r.code)
        for county in county_list:
            if county is not child:
                kept.append(county)
            county.county_index = len(counties)
            counties.append(county)
            towns = sorted((t for t in county.children if int(t.code[6:]) < 400), key=lambda r: r.code)
            for rank, town in enumerate(towns):
                town.rank = rank
            if townships_per_county is not None and len(towns) > townships_per_county:
                towns = sorted(rng.sample(towns, townships_per_county), key=lambda r: r.code)
            county.children = towns
            townships.extend(towns)
            kept.extend(towns)
        if child.level == 2:
            child.children = county_list
    for i, region in enumerate(kept):
        region.index = i
    return Province(root, cities, counties, townships, kept)
