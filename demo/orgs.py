"""Budget units (预算单位) and departments (主管部门), finance-bureau divisions and bank accounts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from demo import ids
from demo.catalog import DEPARTMENTS, DIVISIONS, SUBDISTRICT_UNITS, TOWNSHIP_GOV_EXP_FUNC, TOWNSHIP_UNITS
from demo.names import UNIT_BANKS
from demo.regions import Province, Region
from demo.scales import ScaleSpec

_BANK_FULL = {
    "中国工商银行": "中国工商银行股份有限公司",
    "中国农业银行": "中国农业银行股份有限公司",
    "中国银行": "中国银行股份有限公司",
    "中国建设银行": "中国建设银行股份有限公司",
    "中国邮政储蓄银行": "中国邮政储蓄银行股份有限公司",
    "中原银行": "中原银行股份有限公司",
}


@lru_cache(maxsize=65_536)
def bank_branch(bank: str, region: Region) -> str:
    """The branch of ``bank`` serving ``region``: 中国工商银行股份有限公司郑州金水支行."""
    if bank == "河南农村商业银行":
        county = region.county if region.level >= 3 else region
        return f"{county.name}农村商业银行股份有限公司" if county.level == 3 else "河南省农村信用社联合社"
    full = _BANK_FULL[bank]
    if region.level == 1:
        return f"{full}河南省分行"
    if region.level == 2 or region.city is region:
        return f"{full}{region.short}分行"
    county = region.county
    return f"{full}{county.city.short}{county.short}支行"


@dataclass(eq=False, slots=True)
class Agency:
    index: int
    region: Region
    code: str
    name: str
    dept_code: str
    dept_key: str  # demo.catalog department key, or "township"
    uscc: str
    agency_type: str  # 行政 / 事业
    kind: str  # admin, township, school, hospital, clinic, center
    exp_func: str
    size: int
    projects: tuple[str, ...]
    bank: str
    bank_name: str
    zba_no: str  # 零余额账户
    own_no: str | None  # 实有资金账户, where the unit has one
    payroll: bool  # salaries paid through treasury vouchers
    is_department: bool
    account_opened: date = date(2018, 1, 1)


@dataclass(slots=True)
class Account:
    account_no: str
    account_name: str
    bank_name: str
    mof_div_code: str
    agency_code: str | None
    account_type: str
    opened_on: date
    closed_on: date | None
    approval_doc_no: str | None


@dataclass(slots=True)
class Orgs:
    agencies: list[Agency]
    by_region: dict[str, list[Agency]]  # region code → its agencies, departments first
    accounts: list[Account]
    special_accounts: dict[str, Account]  # region code → its approved social-insurance 财政专户
    spare_accounts: dict[str, list[Account]]  # region code → unapproved or closed 专户 (never paid normally)


def _doc(region: Region, division_char: str, year: int, n: int) -> str:
    return f"{region.doc_prefix}{division_char}〔{year}〕{n}号"


def build_orgs(rng: random.Random, province: Province, scale: ScaleSpec) -> Orgs:
    agencies: list[Agency] = []
    by_region: dict[str, list[Agency]] = {}

    def add(
        region: Region,
        code: str,
        name: str,
        dept_code: str,
        dept_key: str,
        agency_type: str,
        kind: str,
        exp_func: str,
        size: int,
        projects: tuple[str, ...],
        is_department: bool,
    ) -> Agency:
        index = len(agencies)
        bank = UNIT_BANKS[rng.randrange(len(UNIT_BANKS))]
        serial = index * 4
        authority_kind = "11" if agency_type == "行政" else "12"
        agency = Agency(
            index=index,
            region=region,
            code=code,
            name=name,
            dept_code=dept_code,
            dept_key=dept_key,
            uscc=ids.uscc(
                authority_kind[0], authority_kind[1], region.code6, ids.org_code(index, letters=False)
            ),
            agency_type=agency_type,
            kind=kind,
            exp_func=exp_func,
            size=size,
            projects=projects,
            bank=bank,
            bank_name=bank_branch(bank, region),
            zba_no=ids.account_no(bank, region.code6, serial),
            own_no=ids.account_no(bank, region.code6, serial + 1) if rng.randrange(100) < 45 else None,
            payroll=rng.randrange(100) < scale.payroll_pct,
            is_department=is_department,
            account_opened=date(2015 + rng.randrange(8), 1 + rng.randrange(12), 1 + rng.randrange(28)),
        )
        agencies.append(agency)
        by_region.setdefault(region.code, []).append(agency)
        return agency

    for region in province.all:
        if region.level == 4:
            is_street = region.name.endswith("街道")
            gov_name = region.full_name + ("办事处" if is_street else "人民政府")
            add(
                region,
                "901",
                gov_name,
                "901",
                "township",
                "行政",
                "township",
                TOWNSHIP_GOV_EXP_FUNC,
                2,
                ("village_road",),
                True,
            )
            templates = SUBDISTRICT_UNITS if is_street else TOWNSHIP_UNITS
            for ui, tpl in enumerate(templates[: scale.township_units]):
                add(
                    region,
                    f"901{ui + 1:03d}",
                    region.full_name + tpl.suffix,
                    "901",
                    "township",
                    "事业",
                    tpl.kind,
                    tpl.exp_func,
                    tpl.size,
                    (),
                    False,
                )
            continue
        level_key = {1: "p", 2: "c", 3: "k"}[region.level]
        level_slot = 0 if region.level == 1 else 1 if region.level == 2 or region.city is region else 2
        n_depts = scale.departments[level_slot]
        n_units = scale.units_per_department[level_slot]
        for di, dept in enumerate(DEPARTMENTS[:n_depts]):
            dept_code = f"{101 + di}"
            if region.level == 1:
                dept_name = "河南省" + dept.province_name
            else:
                dept_name = region.full_name + dept.local_name
            add(
                region,
                dept_code,
                dept_name,
                dept_code,
                dept.key,
                "行政",
                "admin",
                dept.exp_func,
                2,
                dept.projects,
                True,
            )
            unit_prefix = "河南省" if region.level == 1 else region.name
            for ui, tpl in enumerate([t for t in dept.units if level_key in t.levels][:n_units]):
                add(
                    region,
                    f"{dept_code}{ui + 1:03d}",
                    unit_prefix + tpl.suffix,
                    dept_code,
                    dept.key,
                    "事业",
                    tpl.kind,
                    tpl.exp_func,
                    tpl.size + (1 if region.level <= 2 else 0),
                    dept.projects,
                    False,
                )

    accounts, special, spare = _accounts(rng, province, agencies, by_region)
    return Orgs(agencies, by_region, accounts, special, spare)


def _accounts(
    rng: random.Random, province: Province, agencies: list[Agency], by_region: dict[str, list[Agency]]
) -> tuple[list[Account], dict[str, Account], dict[str, list[Account]]]:
    accounts: list[Account] = []
    treasury_char = DIVISIONS["treasury"].doc_char
    for agency in agencies:
        region = agency.region
        approver = region if region.level < 4 else region.county
        year = agency.account_opened.year
        accounts.append(
            Account(
                agency.zba_no,
                agency.name,
                agency.bank_name,
                region.code,
                agency.code,
                "1",
                agency.account_opened,
                None,
                _doc(approver, treasury_char, year, 1 + rng.randrange(90)),
            )
        )
        if agency.own_no:
            opened = date(2010 + rng.randrange(10), 1 + rng.randrange(12), 1 + rng.randrange(28))
            accounts.append(
                Account(
                    agency.own_no,
                    agency.name,
                    agency.bank_name,
                    region.code,
                    agency.code,
                    "2",
                    opened,
                    None,
                    _doc(approver, treasury_char, opened.year, 1 + rng.randrange(90)),
                )
            )
    special: dict[str, Account] = {}
    spare: dict[str, list[Account]] = {}
    for region in province.all:
        if region.level == 4:
            continue
        finance = next(
            (a for a in by_region.get(region.code, []) if a.dept_key == "finance" and a.is_department), None
        )
        owner = (
            (region.full_name if region.level > 1 else "河南省") + "财政局"
            if region.level > 1
            else "河南省财政厅"
        )
        base = 900_000 + region.index * 10
        kinds = (
            ("社会保障基金财政专户", True, None),
            ("非税收入财政专户", True, None),
            ("教育收费财政专户", True, date(2023, 6, 30)),
            ("代管资金财政专户", False, None),
            ("国库存款财政专户", True, date(2024, 3, 29)),
        )
        for k, (suffix, approved, closed) in enumerate(kinds):
            bank = ("中国建设银行", "中国工商银行", "中国农业银行", "中国银行", "中原银行")[k]
            opened = date(2012 + rng.randrange(6), 1 + rng.randrange(12), 1 + rng.randrange(28))
            doc = f"豫财库〔{opened.year}〕{10 + rng.randrange(80)}号" if approved else None
            account = Account(
                ids.account_no(bank, region.code6, base + k),
                owner + suffix,
                bank_branch(bank, region),
                region.code,
                finance.code if finance else None,
                "3",
                opened,
                closed,
                doc,
            )
            accounts.append(account)
            if k == 0:
                special[region.code] = account
            elif k >= 2 and (closed is not None or not approved):
                spare.setdefault(region.code, []).append(account)
    return accounts, special, spare


def division_rows(province: Province) -> list[tuple[str, str, str]]:
    """mof_dep rows: every division of every finance bureau from the province down to the counties."""
    rows = []
    for region in province.all:
        if region.level == 4:
            continue
        slot = 0 if region.level == 1 else 1 if region.level == 2 else 2
        for division in DIVISIONS.values():
            rows.append((region.code, division.code, division.names[slot]))
    return rows
