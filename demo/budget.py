"""Budget indicators (预算指标): initial budgets, supplements, splits and carry-overs of every unit.

The structure (who gets which indicator, under which document, on which date) is built first; amounts
come last, from the payments actually generated against each indicator (see demo.amounts), so that
indicators, plans and payments always agree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from demo.catalog import DEPARTMENT_BY_KEY, DIVISIONS
from demo.classify import Codes
from demo.orgs import Agency, Orgs
from demo.profiles import PROJECTS
from demo.regions import Province, Region
from demo.scales import ScaleSpec
from demo.workdays import YEARS, add_workdays, next_workday, workdays_between


@dataclass(eq=False, slots=True)
class Indicator:
    bgt_id: str
    region: Region
    year: int
    doc_no: str
    title: str
    doc_date: date
    source: str  # source_type_code
    fund_type: str
    exp_func: str
    gov_eco: str | None = None
    dep_eco: str | None = None
    agency: Agency | None = None
    rec_div: Region | None = None
    sup: Indicator | None = None
    sup_doc_no: str | None = None
    ori: Indicator | None = None
    rec_date: date | None = None
    pro_code: str | None = None
    spe_fund: str | None = None
    mof_dep: str | None = None
    profile: str = ""  # salary, ops:<kind>, a PROJECTS key, batch:<item>
    children: list[Indicator] | None = None  # a transfer's continuations
    undistributed_pm: int = 0  # a transfer: per-mille its region keeps undistributed
    n_pay: int = 0
    weight: int = 0
    paid: int = 0
    first_pay: date | None = None
    exec_pm: int = 950  # paid / current amount at the year's end of data, per-mille of time progress
    amount: int = 0  # original amount (ba_bgt_info.amount)
    current: int = 0  # amount + adjustments
    adjust_pm: int = 0  # planned adjustment, per-mille of the original amount
    adj_date: date | None = None
    plan_sum: int = 0
    plant: str = ""  # a planted rule on this indicator
    sup_bgt_id_text: str | None = None  # orphan_reference plant: a sup_bgt_id that names nothing


@dataclass(slots=True)
class ProjectRow:
    region_code: str
    pro_code: str
    name: str
    agency_code: str
    kind: str
    spe_fund: str | None
    start_year: int


@dataclass(slots=True)
class Budget:
    indicators: list[Indicator] = field(default_factory=list)
    leaves_by_agency: dict[int, list[Indicator]] = field(default_factory=dict)
    projects: list[ProjectRow] = field(default_factory=list)
    spe_funds: list[tuple[str, str, str, str, str, str, int, int]] = field(default_factory=list)
    pension_towns: dict[int, list[Region]] = field(
        default_factory=dict
    )  # agency index → its recipients' towns


class Builder:
    """Creates indicators; shared by the base budgets here and the transfer chains (demo.transfers)."""

    def __init__(
        self, rng: random.Random, province: Province, orgs: Orgs, scale: ScaleSpec, codes: Codes
    ) -> None:
        self.rng = rng
        self.province = province
        self.orgs = orgs
        self.scale = scale
        self.codes = codes
        self.budget = Budget()
        self._doc_counters: dict[tuple[str, str, int], int] = {}
        self._pro_counters: dict[str, int] = {}
        self._approval: dict[tuple[str, int], tuple[str, date]] = {}
        self.base_projects: dict[tuple[int, str], str] = {}

    # --- numbering ------------------------------------------------------------------------------------
    def next_doc(self, region: Region, char: str, year: int) -> str:
        key = (region.code, char, year)
        n = self._doc_counters.get(key, self.rng.randrange(1, 9)) + self.rng.randrange(1, 4)
        self._doc_counters[key] = n
        # a township's finance office numbers its documents without a division: 韩寺财〔2025〕3号
        return f"{region.doc_prefix}{char if region.level < 4 else ''}〔{year}〕{n}号"

    def project(
        self, agency: Agency, name: str, kind: str, start_year: int, spe_fund: str | None = None
    ) -> str:
        region = agency.region
        n = self._pro_counters.get(region.code, 0) + 1
        self._pro_counters[region.code] = n
        code = f"{region.code6}{start_year % 100:02d}{kind}{n:05d}"
        self.budget.projects.append(
            ProjectRow(region.code, code, name, agency.code, kind, spe_fund, start_year)
        )
        return code

    def add(self, ind: Indicator) -> Indicator:
        ind.exp_func = self.codes.valid("exp_func", ind.exp_func, ind.year)
        if ind.gov_eco:
            ind.gov_eco = self.codes.valid("gov_eco", ind.gov_eco, ind.year)
        if ind.dep_eco:
            ind.dep_eco = self.codes.valid("dep_eco", ind.dep_eco, ind.year)
        self.budget.indicators.append(ind)
        if ind.agency is not None:
            self.budget.leaves_by_agency.setdefault(ind.agency.index, []).append(ind)
        return ind

    def new_id(self, year: int) -> str:
        return f"ZB{year}{len(self.budget.indicators) + 1:08d}"

    def mof_dep(self, region: Region, division: str) -> str | None:
        return DIVISIONS[division].code if region.level < 4 else None

    def approval(self, region: Region, year: int) -> tuple[str, date]:
        """The region's approval of its departments' budgets (部门预算批复), early in January."""
        key = (region.code, year)
        if key not in self._approval:
            char = DIVISIONS["budget"].doc_char
            day = next_workday(date(year, 1, 2 + self.rng.randrange(7)))
            self._approval[key] = (self.next_doc(region, char, year), day)
        return self._approval[key]

    def leaf(
        self,
        agency: Agency,
        year: int,
        *,
        profile: str,
        source: str,
        doc_no: str,
        title: str,
        doc_date: date,
        fund_type: str = "1",
        exp_func: str | None = None,
        pro_code: str | None = None,
        division: str | None = None,
        **extra: object,
    ) -> Indicator:
        eco = leaf_economics(profile, agency)
        ind = Indicator(
            bgt_id=self.new_id(year),
            region=agency.region,
            year=year,
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            source=source,
            fund_type=fund_type,
            exp_func=exp_func or agency.exp_func,
            gov_eco=eco[0],
            dep_eco=eco[1],
            agency=agency,
            pro_code=pro_code,
            profile=profile,
            mof_dep=self.mof_dep(agency.region, division or dept_division(agency)),
            **extra,  # type: ignore[arg-type]
        )
        return self.add(ind)


def dept_division(agency: Agency) -> str:
    if agency.dept_key == "township":
        return "budget"
    return DEPARTMENT_BY_KEY[agency.dept_key].division


def leaf_economics(profile: str, agency: Agency) -> tuple[str | None, str | None]:
    """(gov_eco, dep_eco) 类 of an indicator: that of its payments when they share one, else None."""
    from demo.paytypes import PAY_TYPES
    from demo.profiles import BATCH_ITEMS, OPERATIONS

    admin = agency.agency_type == "行政"
    if profile == "salary":
        types = [PAY_TYPES["salary"]]
    elif profile.startswith("ops:"):
        types = [PAY_TYPES[k] for k, _ in OPERATIONS[profile[4:]]]
    elif profile.startswith("batch:"):
        item = BATCH_ITEMS[profile[6:]]
        return item.gov_eco[:3], item.dep_eco[:3]
    else:
        types = [PAY_TYPES[k] for k, _ in PROJECTS[profile][1]]
    gov = {(t.gov_admin if admin else t.gov_inst)[:3] for t in types}
    dep = {t.dep_eco[:3] for t in types}
    return (gov.pop() if len(gov) == 1 else None), (dep.pop() if len(dep) == 1 else None)


def window(ind: Indicator) -> tuple[date, ...]:
    """The working days on which an indicator's payments fall: two working days after issue to year end."""
    from demo.workdays import last_workday

    return workdays_between(add_workdays(ind.doc_date, 2), last_workday(ind.year))


__all__ = ["YEARS", "Budget", "Builder", "Indicator", "ProjectRow", "window"]
