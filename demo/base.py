"""Each unit's own budget: initial budgets (年初预算), supplements (追加), splits (指标分解) and carry-overs
(结转), besides the government-fund, state-capital and social-insurance budgets of the units that carry them.
"""

from __future__ import annotations

from datetime import date, timedelta

from demo.budget import Builder, dept_division
from demo.catalog import DIVISIONS
from demo.orgs import Agency, Orgs
from demo.profiles import PROJECTS
from demo.regions import Region
from demo.workdays import add_workdays, next_workday

_PROJECT_EXP = {
    "farmland": "2130153",
    "road": "2140106",
    "water_works": "2130305",
    "urban_infra": "2120399",
    "afforestation": "2130207",
    "village_road": "2130504",
    "village_industry": "2130505",
    "teacher_training": "2050801",
    "culture_event": "2070109",
    "land_survey": "2200199",
}


def project_exp_func(profile: str, agency: Agency) -> str:
    return _PROJECT_EXP.get(profile, agency.exp_func)


def base_project(b: Builder, agency: Agency, kind: str) -> str:
    key = (agency.index, kind)
    if key not in b.base_projects:
        name = agency.name + ("人员经费" if kind == "1" else "日常公用经费")
        b.base_projects[key] = b.project(agency, name, kind, 2019 + b.rng.randrange(6))
    return b.base_projects[key]


def base_budgets(b: Builder, year: int) -> None:
    rng = b.rng
    for agency in b.orgs.agencies:
        doc_no, doc_date = b.approval(agency.region, year)
        title = f"关于批复{year}年部门预算的通知"
        if agency.payroll:
            b.leaf(
                agency,
                year,
                profile="salary",
                source="1",
                doc_no=doc_no,
                title=title,
                doc_date=doc_date,
                pro_code=base_project(b, agency, "1"),
                weight=0,
            )
        b.leaf(
            agency,
            year,
            profile="ops:" + agency.kind,
            source="1",
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            pro_code=base_project(b, agency, "2"),
            weight=8 * agency.size,
        )
        if agency.kind in ("school", "hospital") and rng.randrange(100) < 40:
            b.leaf(
                agency,
                year,
                profile="ops:" + agency.kind,
                source="1",
                doc_no=doc_no,
                title=f"关于批复{year}年部门预算（单位资金）的通知",
                doc_date=doc_date,
                fund_type="9",
                pro_code=base_project(b, agency, "2"),
                weight=agency.size,
            )
        for _ in range(rng.randrange(b.scale.projects_per_unit + 1)):
            if agency.projects:
                specific_project(b, agency, year, rng.choice(agency.projects), doc_no, doc_date)
        special_fund_types(b, agency, year, doc_no, doc_date)


def specific_project(
    b: Builder, agency: Agency, year: int, profile: str, doc_no: str, doc_date: date
) -> None:
    rng = b.rng
    name = PROJECTS[profile][0].format(y=year)
    pro_code = b.project(agency, f"{agency.name}{name}", "3", year)
    if rng.randrange(100) < 30:  # a supplement (追加) later in the year, on the division's own document
        division = dept_division(agency)
        supp_date = next_workday(
            date(year, 3 + rng.randrange(5 if year == 2025 else 4), 1 + rng.randrange(28))
        )
        parent = b.leaf(
            agency,
            year,
            profile=profile,
            source="2",
            doc_no=b.next_doc(agency.region, DIVISIONS[division].doc_char, year),
            title=f"关于追加{agency.name}{name}经费的通知",
            doc_date=supp_date,
            pro_code=pro_code,
            exp_func=project_exp_func(profile, agency),
            weight=2 * agency.size,
        )
    else:
        parent = b.leaf(
            agency,
            year,
            profile=profile,
            source="1",
            doc_no=doc_no,
            title=f"关于批复{year}年部门预算的通知",
            doc_date=doc_date,
            pro_code=pro_code,
            exp_func=project_exp_func(profile, agency),
            weight=2 * agency.size,
        )
    if agency.is_department and rng.randrange(100) < 25:
        units = [
            a
            for a in b.orgs.by_region[agency.region.code]
            if a.dept_code == agency.code and not a.is_department
        ]
        if units:  # split part of the department's indicator off to one of its units (指标分解)
            unit = units[rng.randrange(len(units))]
            b.leaf(
                unit,
                year,
                profile=profile,
                source=parent.source,
                doc_no=parent.doc_no,
                title=parent.title,
                doc_date=add_workdays(parent.doc_date, 2 + rng.randrange(8)),
                pro_code=pro_code,
                exp_func=parent.exp_func,
                ori=parent,
                weight=2 * unit.size,
            )


def special_fund_types(b: Builder, agency: Agency, year: int, doc_no: str, doc_date: date) -> None:
    """Government-fund, state-capital and social-insurance budgets of the units that carry them."""
    title = f"关于批复{year}年部门预算的通知"
    region = agency.region
    if agency.dept_key == "housing" and agency.is_department and region.level <= 3:
        pro = b.project(agency, f"{agency.name}{year}年国有土地使用权出让收入安排城市建设项目", "3", year)
        b.leaf(
            agency,
            year,
            profile="urban_infra",
            source="1",
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            fund_type="2",
            exp_func="2120803",
            pro_code=pro,
            weight=2 * agency.size,
        )
    if agency.dept_key == "finance" and agency.is_department and region.level <= 2 and region.city is region:
        pro = b.project(agency, f"{year}年国有企业资本金注入项目", "3", year)
        b.leaf(
            agency,
            year,
            profile="soe_capital",
            source="1",
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            fund_type="3",
            exp_func="22302",
            pro_code=pro,
            n_pay=2,
        )
    if agency.dept_key == "hrss" and region.level in (2, 3) and agency is pension_payer(b.orgs, region):
        towns = pension_towns(region)
        if towns:
            b.budget.pension_towns[agency.index] = towns
            pro = b.project(agency, f"{year}年城乡居民基本养老保险待遇支付", "3", year)
            b.leaf(
                agency,
                year,
                profile="batch:pension",
                source="1",
                doc_no=doc_no,
                title=title,
                doc_date=doc_date,
                fund_type="4",
                exp_func="20908",
                pro_code=pro,
                division="social",
            )


def carry_overs(b: Builder) -> None:
    """Unspent 2025 money carried into 2026 (结转), for a share of the units with a 2025 project."""
    rng = b.rng
    for agency in b.orgs.agencies:
        leaves = [
            i
            for i in b.budget.leaves_by_agency.get(agency.index, [])
            if i.year == 2025 and i.profile in PROJECTS and i.fund_type == "1" and i.sup is None
        ]
        if not leaves or rng.randrange(100) >= 35:
            continue
        old = leaves[rng.randrange(len(leaves))]
        region = agency.region
        char = DIVISIONS["budget"].doc_char
        day = next_workday(date(2026, 1, 15) + timedelta(days=rng.randrange(30)))
        b.leaf(
            agency,
            2026,
            profile=old.profile,
            source="4",
            doc_no=b.next_doc(region, char, 2026),
            title="关于下达2025年结转资金的通知",
            doc_date=day,
            pro_code=old.pro_code,
            exp_func=old.exp_func,
            weight=agency.size,
        )


def pension_payer(orgs: Orgs, region: Region) -> Agency | None:
    hrss = [a for a in orgs.by_region.get(region.code, []) if a.dept_key == "hrss"]
    centre = [a for a in hrss if a.name.endswith("社会保险中心")]
    return next(iter(centre or hrss), None)


def pension_towns(region: Region) -> list[Region]:
    if region.level == 3:
        return list(region.children)
    for county in region.children:
        if county.children:
            return list(county.children)
    return []
