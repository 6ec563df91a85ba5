"""The ground truth of planted anomalies (``anomalies.jsonl``) and which objects carry them.

Each planted anomaly is a ``Plant``: its rule, the objects it is about and a note with the figures. A rule
engine scored against the file should find exactly these: every plant sits on its own unit (or indicator,
or payment), chosen apart from the others, so only its rule's condition is true there.
``object_ids[0]`` is the primary object; further ids are the others involved (an upper transfer's
continuations, the other payments of a split, both lines of a duplicate beneficiary).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from demo.budget import Builder, Indicator
from demo.orgs import Agency
from demo.scales import ScaleSpec
from demo.schedules import is_scheduled
from demo.transfers import Transfers
from demo.workdays import YEARS, next_workday

GROUPS = {
    "late_receipt": "指标接收",
    "late_pass_on": "指标接收",
    "idle_funds": "资金分配",
    "budget_change": "资金分配",
    "low_execution": "拨付进度",
    "year_end_rush": "拨付进度",
    "large_cash": "资金使用",
    "same_name_transfer": "资金使用",
    "unit_to_unit": "资金使用",
    "over_budget": "资金使用",
    "over_plan": "资金使用",
    "no_indicator": "资金使用",
    "official_card_not_used": "资金使用",
    "sangong_overspend": "资金使用",
    "suspicious_purpose": "资金使用",
    "split_payment": "资金使用",
    "duplicate_payment": "资金使用",
    "non_working_day": "资金使用",
    "unapproved_account": "账户管理",
    "payee_enterprise_risk": "收款人",
    "beneficiary_risk": "受益对象",
    "duplicate_beneficiary": "受益对象",
    "detail_mismatch": "数据质量",
    "missing_classification": "数据质量",
    "orphan_reference": "数据质量",
}
RULES = tuple(GROUPS)

#: rules planted on payments of a host unit (demo.plants), and on 一卡通 batches
PAYMENT_RULES = (
    "large_cash",
    "same_name_transfer",
    "unit_to_unit",
    "no_indicator",
    "official_card_not_used",
    "sangong_overspend",
    "suspicious_purpose",
    "split_payment",
    "duplicate_payment",
    "non_working_day",
    "unapproved_account",
    "payee_enterprise_risk",
    "missing_classification",
    "orphan_reference",
)
BATCH_RULES = ("beneficiary_risk", "duplicate_beneficiary", "detail_mismatch")
INDICATOR_RULES = ("over_budget", "over_plan", "budget_change")


@dataclass(eq=False, slots=True)
class Plant:
    rule: str
    object_type: str
    year: int
    region_code: str
    variant: int = 0
    note: str = ""
    ids: list[str] = field(default_factory=list)
    leaf: Indicator | None = None
    agency: Agency | None = None
    ok: bool = True

    def record(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "group": GROUPS[self.rule],
            "object_type": self.object_type,
            "object_ids": list(self.ids),
            "fiscal_year": self.year,
            "mof_div_code": self.region_code,
            "note": self.note,
        }


@dataclass(slots=True)
class PlantPlan:
    by_agency: dict[int, list[Plant]] = field(default_factory=dict)  # payment and batch plants
    rush: dict[int, Plant] = field(default_factory=dict)  # candidates for year_end_rush
    low_execution: dict[tuple[int, int], Plant] = field(default_factory=dict)  # (agency, year)
    short_month: dict[str, Plant] = field(default_factory=dict)  # over_plan: bgt_id → plant
    plants: list[Plant] = field(default_factory=list)
    used: set[int] = field(default_factory=set)  # agencies carrying a plant

    def add(self, plant: Plant) -> Plant:
        self.plants.append(plant)
        return plant

    def records(self) -> list[dict[str, object]]:
        return [p.record() for p in self.plants if p.ok and p.ids]


def _ops_leaf(builder: Builder, agency: Agency, year: int) -> Indicator | None:
    for leaf in builder.budget.leaves_by_agency.get(agency.index, []):
        if (
            leaf.year == year
            and leaf.profile.startswith("ops:")
            and leaf.fund_type == "1"
            and leaf.source == "1"
        ):
            return leaf
    return None


def plan_structure_and_units(
    rng: random.Random, builder: Builder, transfers: Transfers, scale: ScaleSpec
) -> PlantPlan:
    """Record the planted transfer chains; choose units for the unit-level plants (before counts exist)."""
    plan = PlantPlan()
    for rule, upper, others in transfers.plants.done:
        assert upper.rec_div is not None
        region = upper.rec_div.code
        if rule == "late_receipt":
            late = others[0].rec_date
            assert late is not None
            plant = Plant(
                rule,
                "indicator",
                upper.year,
                region,
                ids=[upper.bgt_id] + [o.bgt_id for o in others],
                note=f"transfer {upper.doc_no} of {upper.doc_date} registered by {upper.rec_div.name} on "
                f"{late} (continuations {len(others)})",
            )
        elif rule == "late_pass_on":
            late_leaf = others[0]
            kind = "special" if upper.spe_fund else "general"
            note = f"{kind} transfer {upper.doc_no} of {upper.doc_date} assigned by {upper.rec_div.name} "
            note += f"on {late_leaf.doc_date} under {late_leaf.doc_no}"
            plant = Plant(
                rule, "indicator", upper.year, region, ids=[upper.bgt_id, late_leaf.bgt_id], note=note
            )
        else:
            plant = Plant(rule, "indicator", upper.year, region, ids=[upper.bgt_id], leaf=upper, note="")
        plan.add(plant)

    agencies = builder.orgs.agencies
    order = rng.sample(range(len(agencies)), len(agencies))
    cursor = iter(order)

    def next_host(predicate) -> Agency | None:  # type: ignore[no-untyped-def]
        for i in cursor:
            a = agencies[i]
            if i not in plan.used and predicate(a):
                plan.used.add(i)
                return a
        return None

    n = scale.plants
    for i in range(n):
        year = YEARS[i % 2]
        host = next_host(lambda a, y=year: a.region.level < 4 and _ops_leaf(builder, a, y) is not None)
        if host:  # low_execution: every indicator of the unit's year paid far behind time progress
            plan.low_execution[(host.index, year)] = plan.add(
                Plant("low_execution", "agency", year, host.region.code, agency=host, ids=[host.code])
            )
    for i in range(n):  # idle_funds on a unit: an indicator nobody pays from
        year = YEARS[i % 2]
        host = next_host(lambda a, y=year: _ops_leaf(builder, a, y) is not None)
        if host:
            base = _ops_leaf(builder, host, year)
            assert base is not None
            day = next_workday(base.doc_date.replace(month=3 + rng.randrange(3), day=1 + rng.randrange(27)))
            leaf = builder.leaf(
                host,
                year,
                profile=base.profile,
                source="2",
                doc_no=builder.next_doc(host.region, "预", year),
                title=f"关于追加{host.name}{year}年专项业务经费的通知",
                doc_date=day,
                pro_code=base.pro_code,
                n_pay=0,
                plant="idle_funds",
            )
            plan.add(
                Plant(
                    "idle_funds",
                    "indicator",
                    year,
                    host.region.code,
                    ids=[leaf.bgt_id],
                    leaf=leaf,
                    agency=host,
                )
            )
    for i in range(n // 2 + 1):  # orphan_reference on an indicator: sup_bgt_id names nothing
        year = YEARS[i % 2]
        host = next_host(lambda a, y=year: a.region.level == 3 and _ops_leaf(builder, a, y) is not None)
        if host:
            base = _ops_leaf(builder, host, year)
            assert base is not None
            day = next_workday(base.doc_date.replace(month=3 + rng.randrange(3), day=1 + rng.randrange(27)))
            missing = f"ZB{year}99{i:06d}"
            leaf = builder.leaf(
                host,
                year,
                profile=base.profile,
                source="3",
                doc_no=builder.next_doc(host.region, "预", year),
                title=f"关于下达{year}年上级补助资金的通知",
                doc_date=day,
                pro_code=base.pro_code,
                sup_bgt_id_text=missing,
                sup_doc_no=f"{host.region.city.doc_prefix}预〔{year}〕{900 + i}号",
                rec_date=day,
                weight=2 * host.size,
            )
            plan.add(
                Plant(
                    "orphan_reference",
                    "indicator",
                    year,
                    host.region.code,
                    ids=[leaf.bgt_id],
                    leaf=leaf,
                    note=f"indicator's sup_bgt_id {missing} names no indicator",
                )
            )
    return plan


def plan_payments(rng: random.Random, builder: Builder, plan: PlantPlan, scale: ScaleSpec) -> None:
    """Choose host units for the payment plants and host indicators for the indicator plants."""
    agencies = builder.orgs.agencies
    order = rng.sample(range(len(agencies)), len(agencies))
    n = scale.plants

    def take(predicate) -> Agency | None:  # type: ignore[no-untyped-def]
        for i in order:
            if i not in plan.used and predicate(agencies[i]):
                plan.used.add(i)
                return agencies[i]
        return None

    def free_payments(a: Agency) -> int:
        return sum(
            leaf.n_pay
            for leaf in builder.budget.leaves_by_agency.get(a.index, [])
            if leaf.year == 2025 and not is_scheduled(leaf.profile)
        )

    for _ in range(2 * n):  # year_end_rush candidates; the first n that reach the share are kept
        host = take(lambda a: not a.payroll and free_payments(a) >= 5)
        if host:
            plan.rush[host.index] = Plant(
                "year_end_rush", "agency", 2025, host.region.code, agency=host, ids=[host.code]
            )
    payment_quota = {rule: n for rule in PAYMENT_RULES}
    payment_quota["orphan_reference"] = n - (n // 2 + 1) if n > 3 else 2
    for rule in PAYMENT_RULES:
        for i in range(payment_quota[rule]):
            year = YEARS[i % 2]
            if rule == "same_name_transfer":
                host = take(lambda a, y=year: a.own_no is not None and _ops_leaf(builder, a, y) is not None)
            elif rule == "unit_to_unit":
                host = take(
                    lambda a, y=year: (
                        _ops_leaf(builder, a, y) is not None
                        and len([b for b in builder.orgs.by_region[a.region.code] if b.own_no and b is not a])
                        > 0
                    )
                )
            elif rule == "unapproved_account":
                host = take(lambda a, y=year: a.region.level < 4 and _ops_leaf(builder, a, y) is not None)
            else:
                host = take(lambda a, y=year: _ops_leaf(builder, a, y) is not None)
            if host is None:
                continue
            plant = Plant(
                rule,
                "payment",
                year,
                host.region.code,
                variant=i,
                leaf=_ops_leaf(builder, host, year),
                agency=host,
            )
            plan.by_agency.setdefault(host.index, []).append(plan.add(plant))
    # 一卡通 plants: one per batch indicator (a unit may carry several, each in its own voucher)
    batch_leaves = [
        i for i in builder.budget.indicators if i.agency is not None and i.profile.startswith("batch:")
    ]
    batch_order = iter(rng.sample(batch_leaves, len(batch_leaves)))
    spare: list[Indicator] = []
    for rule in BATCH_RULES:
        for i in range(n):
            year = YEARS[i % 2]
            leaf = next((x for x in spare if x.year == year), None)
            if leaf is not None:
                spare.remove(leaf)
            else:
                for candidate in batch_order:
                    if candidate.year == year:
                        leaf = candidate
                        break
                    spare.append(candidate)
            if leaf is None or leaf.agency is None:
                continue
            host = leaf.agency
            object_type = "payment" if rule == "detail_mismatch" else "pay_detail"
            plant = Plant(rule, object_type, year, host.region.code, variant=i, leaf=leaf, agency=host)
            plan.by_agency.setdefault(host.index, []).append(plan.add(plant))
    for rule in INDICATOR_RULES:
        for i in range(n):
            year = YEARS[i % 2]
            host = take(
                lambda a, y=year, r=rule: any(
                    _indicator_host(leaf, y, r) for leaf in builder.budget.leaves_by_agency.get(a.index, [])
                )
            )
            if host is None:
                continue
            leaf = next(
                leaf
                for leaf in builder.budget.leaves_by_agency[host.index]
                if _indicator_host(leaf, year, rule)
            )
            plant = plan.add(
                Plant(
                    rule,
                    "indicator",
                    year,
                    host.region.code,
                    variant=i,
                    leaf=leaf,
                    agency=host,
                    ids=[leaf.bgt_id],
                )
            )
            if rule == "over_budget":
                leaf.plant = rule
            elif rule == "over_plan":
                plan.short_month[leaf.bgt_id] = plant
            else:
                sign = 1 if i % 2 == 0 else -1
                leaf.adjust_pm = sign * (300 + rng.randrange(250))
                leaf.plant = rule


def _indicator_host(leaf: Indicator, year: int, rule: str) -> bool:
    if leaf.year != year or leaf.plant or leaf.n_pay < 3 or leaf.profile.startswith("batch:"):
        return False
    if rule == "budget_change":
        return leaf.source in ("1", "2") and leaf.sup is None and leaf.profile.startswith("ops:")
    return leaf.profile != "salary"
