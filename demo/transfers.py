"""Transfer chains (转移支付): province → city → county → township, each level registering the upper
document (``rec_date``), issuing its own and passing the money on or assigning it to its units.

Normal lags stay well inside the statutory deadlines of monitor.thresholds; the structural anomalies
(late receipt, late pass-on, idle transfer) are planted here, at chosen (program, county) pairs of 2025.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from demo.budget import Builder, Indicator
from demo.catalog import DIVISIONS
from demo.orgs import Agency
from demo.programs import PROGRAMS, Program
from demo.regions import Region
from demo.workdays import add_workdays, workdays_between
from monitor import thresholds as th

#: rules planted in the structure of the transfer chains
STRUCTURAL_RULES = ("late_receipt", "late_pass_on", "idle_funds")


@dataclass(slots=True)
class StructurePlants:
    """(program key, county code) → rule, chosen before the chains of 2025 are built; ``done`` records
    the transfers actually planted (a plan whose dates do not allow it is skipped)."""

    plan: dict[tuple[str, str], str] = field(default_factory=dict)
    done: list[tuple[str, Indicator, list[Indicator]]] = field(default_factory=list)
    wanted: int = 0

    def count(self, rule: str) -> int:
        return sum(1 for r, _, _ in self.done if r == rule)


class Transfers:
    def __init__(self, builder: Builder) -> None:
        self.b = builder
        self.rng = builder.rng
        self.programs = [p for p in PROGRAMS if p.min_scale <= builder.scale.rank]
        self._accepts: dict[tuple[str, str], bool] = {}
        self.fund_codes: dict[str, str] = {}
        self.plants = StructurePlants(wanted=max(4, builder.scale.plants // 3))
        self._register_funds()

    # --- special funds ----------------------------------------------------------------------------------
    def _register_funds(self) -> None:
        for i, program in enumerate(p for p in self.programs if p.special):
            division = DIVISIONS[program.division]
            code = f"ZX41{division.code}{i + 1:03d}"
            self.fund_codes[program.key] = code
            start = int(
                program.policy_doc[program.policy_doc.index("〔") + 1 : program.policy_doc.index("〕")]
            )
            self.b.budget.spe_funds.append(
                (
                    code,
                    program.name,
                    "410000000",
                    division.code,
                    program.fund_type,
                    program.policy_doc,
                    start,
                    2030,
                )
            )

    # --- which regions take part -------------------------------------------------------------------------
    def leaf_agencies(self, program: Program, region: Region) -> list[Agency]:
        if region.level == 4:
            if not program.to_township:
                return []
            return [a for a in self.b.orgs.by_region.get(region.code, []) if a.is_department]
        if not program.profile:
            return []
        county_only = program.profile.startswith("batch:") or program.profile == "to_special_account"
        if county_only and region.level != 3:
            return []
        if county_only and program.profile.startswith("batch:") and not region.children:
            return []  # a 一卡通 subsidy needs the county's townships
        agencies = [a for a in self.b.orgs.by_region.get(region.code, []) if a.dept_key in program.leaf_depts]
        chosen: list[Agency] = []
        for kind in program.leaf_kinds:
            for a in agencies:
                if (
                    a.is_department if kind == "" else a.kind == kind and not a.is_department
                ) and a not in chosen:
                    chosen.append(a)
        limit = 1 if county_only else self.b.scale.leaves_per_region
        if program.key == "junheng" and len(chosen) > limit:
            picked = sorted(self.rng.sample(range(len(chosen)), limit))
            return [chosen[i] for i in picked]
        return chosen[:limit]

    def lower(self, program: Program, region: Region) -> list[Region]:
        if region.level == 2:
            return region.children
        if region.level == 3 and program.to_township:
            return region.children
        return []

    def accepts(self, program: Program, region: Region) -> bool:
        key = (program.key, region.code)
        if key not in self._accepts:
            self._accepts[key] = bool(self.has_leaves(program, region)) or any(
                self.accepts(program, r) for r in self.lower(program, region)
            )
        return self._accepts[key]

    def has_leaves(self, program: Program, region: Region) -> bool:
        # like leaf_agencies, without drawing from the random stream
        if program.key != "junheng":
            return bool(self.leaf_agencies(program, region))
        return any(a.dept_key in program.leaf_depts for a in self.b.orgs.by_region.get(region.code, []))

    # --- the chains ---------------------------------------------------------------------------------------
    def choose_plants(self) -> None:
        counties = [c for c in self.b.province.counties if c.level == 3 and c.parent and c.parent.level == 2]
        pairs = [(p, c) for p in self.programs for c in counties if self.accepts(p, c)]
        rules = list(STRUCTURAL_RULES)
        picked = self.rng.sample(range(len(pairs)), min(len(pairs), 3 * self.plants.wanted * len(rules)))
        used: set[str] = set()
        for n, i in enumerate(picked):
            program, county = pairs[i]
            if county.code in used:
                continue
            used.add(county.code)
            self.plants.plan[(program.key, county.code)] = rules[n % len(rules)]

    def build(self, year: int) -> None:
        for program in self.programs:
            self._program(program, year)

    def _program(self, program: Program, year: int) -> None:
        b, rng = self.b, self.rng
        province = b.province.root
        division = DIVISIONS[program.division]
        last = date(year, 4, 30) if year == 2025 else date(year, 3, 20)
        days = workdays_between(date(year, 1, 6), last)
        if program.central:
            central_date = days[rng.randrange(len(days))]
            central_doc = f"{division.central_prefix}〔{year}〕{10 + rng.randrange(190)}号"
            rec_lag = 1 + rng.randrange(4)
            rec_date: date | None = add_workdays(central_date, rec_lag)
            doc_date = add_workdays(central_date, rec_lag + 1 + rng.randrange(15))
        else:
            central_doc, rec_date = None, None
            doc_date = days[rng.randrange(len(days))]
        doc_no = b.next_doc(province, division.doc_char, year)
        title = f"关于下达{year}年{program.name}的通知"
        for city in b.province.cities:
            if not self.accepts(program, city):
                continue
            line = self._line(
                program,
                year,
                province,
                city,
                doc_no,
                title,
                doc_date,
                None,
                central_doc,
                rec_date,
                "3" if program.central else "1",
            )
            self._expand(program, year, city, line)

    def _line(
        self,
        program: Program,
        year: int,
        region: Region,
        rec_div: Region,
        doc_no: str,
        title: str,
        doc_date: date,
        sup: Indicator | None,
        sup_doc_no: str | None,
        rec_date: date | None,
        source: str,
    ) -> Indicator:
        ind = Indicator(
            bgt_id=self.b.new_id(year),
            region=region,
            year=year,
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            source=source,
            fund_type=program.fund_type,
            exp_func=program.exp_func or "23002",
            gov_eco="51301",
            rec_div=rec_div,
            sup=sup,
            sup_doc_no=sup_doc_no,
            rec_date=rec_date,
            spe_fund=self.fund_codes.get(program.key),
            mof_dep=self.b.mof_dep(region, program.division),
            children=[],
            undistributed_pm=5 + self.rng.randrange(36),
        )
        if sup is not None and sup.children is not None:
            sup.children.append(ind)
        return self.b.add(ind)

    def _expand(self, program: Program, year: int, region: Region, upper: Indicator) -> None:
        """``region`` registers ``upper`` and passes it on to its lower regions and its own units."""
        b, rng = self.b, self.rng
        special = program.special
        max_lag = 15 if region.level == 4 else (28 if special else 20)
        rec_lag = 1 + rng.randrange(4)
        doc_lag = rec_lag + 1 + rng.randrange(max_lag - rec_lag)
        rule = self.plants.plan.get((program.key, region.code)) if year == 2025 else None
        if rule and self.plants.count(rule) >= self.plants.wanted:
            rule = None
        if rule == "late_receipt":
            rec_lag = th.LATE_RECEIPT_WORKING_DAYS + 3 + rng.randrange(8)
            doc_lag = rec_lag + 1 + rng.randrange(3)
        rec_date = add_workdays(upper.doc_date, rec_lag)
        doc_date = add_workdays(upper.doc_date, doc_lag)
        char = DIVISIONS[program.division].doc_char
        doc_no = b.next_doc(region, char, year)
        title = f"关于下达{year}年{program.name}的通知"
        if region.level == 4:
            title = f"关于分配{year}年{program.name}的通知"
        continuations: list[Indicator] = []
        for lower in self.lower(program, region):
            if self.accepts(program, lower):
                line = self._line(
                    program, year, region, lower, doc_no, title, doc_date, upper, upper.doc_no, rec_date, "3"
                )
                continuations.append(line)
                self._expand(program, year, lower, line)
        for agency in self.leaf_agencies(program, region):
            continuations.append(self._leaf(program, year, agency, upper, doc_no, title, doc_date, rec_date))
        if not continuations or rule is None:
            return
        if rule == "late_receipt":
            self.plants.done.append((rule, upper, continuations))
        elif rule == "idle_funds":
            upper.undistributed_pm = 450 + rng.randrange(150)
            upper.plant = rule
            self.plants.done.append((rule, upper, []))
        elif rule == "late_pass_on":
            late = continuations[-1]
            deadline = (
                th.PASS_ON_DEADLINE_SPECIAL_WORKING_DAYS
                if special
                else th.PASS_ON_DEADLINE_GENERAL_WORKING_DAYS
            )
            late_date = add_workdays(upper.doc_date, deadline + 6 + rng.randrange(10))
            if late.agency is None or late_date > date(2025, 9, 15):
                return  # only a leaf, and early enough to be paid in the year
            late.doc_date = late_date
            late.doc_no = b.next_doc(region, char, year)
            late.title = f"关于下达{year}年{program.name}（第二批）的通知"
            late.plant = rule
            self.plants.done.append((rule, upper, [late]))

    def _leaf(
        self,
        program: Program,
        year: int,
        agency: Agency,
        upper: Indicator,
        doc_no: str,
        title: str,
        doc_date: date,
        rec_date: date,
    ) -> Indicator:
        b = self.b
        profile = program.township_profile if agency.region.level == 4 else program.profile
        if profile == "ops":
            profile = "ops:" + agency.kind
        name = f"{year}年{program.name}"
        pro = b.project(agency, f"{agency.name}{name}项目", "3", year, self.fund_codes.get(program.key))
        exp_func = program.exp_func or agency.exp_func
        if profile == "village_road":
            exp_func = program.exp_func if program.key != "xiangcun" else "2130504"
        ind = b.leaf(
            agency,
            year,
            profile=profile,
            source="3",
            doc_no=doc_no,
            title=title,
            doc_date=doc_date,
            fund_type=program.fund_type,
            exp_func=exp_func,
            pro_code=pro,
            division=program.division,
            sup=upper,
            sup_doc_no=upper.doc_no,
            rec_date=rec_date,
            spe_fund=self.fund_codes.get(program.key),
            weight=2 * agency.size,
        )
        if upper.children is not None:
            upper.children.append(ind)
        return ind
