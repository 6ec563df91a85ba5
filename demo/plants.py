"""Planted payments: each function adds to a host unit's payments the ones that make one anomaly.

Amounts, payees and dates are chosen so that only the plant's own rule fires: e.g. a large cash payment
goes to a person for labour (not an official-card code, not a 三公 code), split payments differ in amount
and purpose (no duplicate), a planted duplicate falls on two different days (no split).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import partial

from demo.anomalies import Plant, PlantPlan
from demo.batchplants import RiskRow, plant_in_batch
from demo.budget import Indicator, window
from demo.orgs import Agency
from demo.payees import INDIVIDUALS_FROM, Payee
from demo.payments import Pay, PaymentGenerator
from demo.paytypes import PAY_TYPES, PayType
from demo.rand import yuan
from demo.regions import Region
from demo.workdays import next_workday, rest_days
from monitor import thresholds as th

_OTHER = PayType("plant_other", "30299", "50299", "50502", (), "office", 0, 600, 0)
_ABROAD = PayType("plant_abroad", "30212", "50207", "50502", (), "travel", 0, 600, 0)
_CAR = PayType("plant_car", "31013", "50303", "50601", (), "auto", 0, 600, 0)
_SUSPICIOUS = ("购买中秋节礼品", "组织职工旅游", "KTV消费", "购买烟酒", "高尔夫球场消费", "购买超市购物卡")
_ENTERPRISE_RISKS = (("dishonest_debtor", "court"), ("abnormal_operation", "samr"), ("deregistered", "samr"))


Gen = PaymentGenerator
Rng = random.Random


class Planter:
    """The payment-generation hook that adds the planted payments of each host unit."""

    def __init__(self, plan: PlantPlan, regions: dict[str, Region]) -> None:
        self.plan = plan
        self.regions = regions
        self.risk_rows: list[RiskRow] = []
        self.rush_done = 0
        self.rush_wanted = len(plan.rush) // 2 if plan.rush else 0

    def __call__(self, gen: PaymentGenerator, agency: Agency, rng: random.Random, pays: list[Pay]) -> None:
        for plant in self.plan.by_agency.get(agency.index, []):
            leaf = plant.leaf
            assert leaf is not None
            if leaf.profile.startswith("batch:"):
                plant_in_batch(plant, pays, rng, self.regions, self.risk_rows)
            else:
                getattr(self, plant.rule)(gen, plant, agency, leaf, rng, pays)

    # --- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def _day(rng: random.Random, leaf: Indicator, months: tuple[int, int] = (3, 9)) -> date:
        days = [d for d in window(leaf) if months[0] <= d.month <= months[1]]
        return days[rng.randrange(len(days))]

    @staticmethod
    def _fen(rng: random.Random, low_yuan: int, high_yuan: int) -> int:
        return low_yuan * 100 + rng.randrange((high_yuan - low_yuan) * 100)

    @staticmethod
    def _vendor(gen: PaymentGenerator, rng: random.Random, industry: str, agency: Agency) -> Payee:
        return gen.payees.vendors(rng, industry, agency.region, 1)[0]

    def _pay(
        self,
        pays: list[Pay],
        plant: Plant,
        leaf: Indicator,
        day: date,
        amount: int,
        ptype: PayType,
        text: str,
        payee: Payee,
        set_mode: str,
        **extra: object,
    ) -> Pay:
        pay = Pay(leaf, day, amount, ptype, text, payee, set_mode, 100_000 + len(pays), plant=plant)
        for name, value in extra.items():
            setattr(pay, name, value)
        pays.append(pay)
        return pay

    # --- payment rules ---------------------------------------------------------------------------------
    def large_cash(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        county = gen.person_county(agency)
        for p in pays:  # the unit's own small cash payments would join the planted month's total
            if p.set_mode == "2" and p.plant is None:
                p.set_mode = "1"
        base = INDIVIDUALS_FROM + 5_000 + 3 * (plant.variant + 10 * agency.index % 1_000)
        if plant.variant % 2 == 0:
            amount = self._fen(rng, th.LARGE_CASH_YUAN + 10_000, th.LARGE_CASH_YUAN * 3)
            add(
                self._day(rng, leaf),
                amount,
                PAY_TYPES["labour"],
                "支付临时用工劳务费（现金）",
                gen.payees.person_payee(county, base),
                "2",
            )
            plant.note = f"one cash payment of {yuan(amount)} yuan (> {th.LARGE_CASH_YUAN})"
            return
        first = self._day(rng, leaf, (3, 8))
        days = [d for d in window(leaf) if d.month == first.month and d.year == first.year]
        picked = sorted(rng.sample(days, 3)) if len(days) >= 3 else days
        total = 0
        for j, day in enumerate(picked):
            amount = self._fen(rng, 36_000, 46_000)
            total += amount
            add(
                day,
                amount,
                PAY_TYPES["labour"],
                "支付临时用工劳务费（现金）",
                gen.payees.person_payee(county, base + j),
                "2",
            )
        plant.note = (
            f"{len(picked)} cash payments in {first:%Y-%m}, each below {th.LARGE_CASH_YUAN}, together "
            f"{yuan(total)} yuan (> monthly limit {th.CASH_MONTHLY_LIMIT_YUAN})"
        )

    def same_name_transfer(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        assert agency.own_no is not None
        amount = self._fen(rng, 50_000, 180_000)
        payee = Payee(agency.name, agency.own_no, agency.bank_name, "5", uscc=agency.uscc)
        add(self._day(rng, leaf), amount, _OTHER, "资金划转", payee, "1")
        plant.note = (
            f"{yuan(amount)} yuan paid to the unit's own 实有资金账户 {agency.own_no} (payer = payee name)"
        )

    def unit_to_unit(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        others = [b for b in gen.orgs.by_region[agency.region.code] if b.own_no and b is not agency]
        other = others[rng.randrange(len(others))]
        assert other.own_no is not None
        amount = self._fen(rng, 30_000, 180_000)
        payee = Payee(other.name, other.own_no, other.bank_name, "1", uscc=other.uscc)
        add(self._day(rng, leaf), amount, _OTHER, "拨付代管单位业务经费", payee, "1")
        plant.note = f"{yuan(amount)} yuan paid to another budget unit, {other.name} ({other.code})"

    def no_indicator(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        amount = self._fen(rng, 2_000, 40_000)
        add(
            self._day(rng, leaf),
            amount,
            PAY_TYPES["equipment"],
            "购置办公设备",
            self._vendor(gen, rng, "equipment", agency),
            "1",
            fields={"bgt_id": None, "pro_code": None},
        )
        plant.note = f"payment of {yuan(amount)} yuan without bgt_id"

    def official_card_not_used(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        if plant.variant % 2 == 0:
            amount = self._fen(rng, 2_000, 8_000)
            add(
                self._day(rng, leaf),
                amount,
                PAY_TYPES["travel"],
                "公务出差住宿费",
                self._vendor(gen, rng, "hotel", agency),
                "1",
            )
            plant.note = f"差旅费 (30211) of {yuan(amount)} yuan paid by transfer, not official card"
        else:
            amount = self._fen(rng, 800, 2_500)
            add(
                self._day(rng, leaf),
                amount,
                PAY_TYPES["reception"],
                "公务接待餐费",
                self._vendor(gen, rng, "catering", agency),
                "2",
            )
            plant.note = f"公务接待费 (30217) of {yuan(amount)} yuan paid in cash, not official card"

    def sangong_overspend(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        v = plant.variant % 4
        if v == 0:
            amount = self._fen(rng, 15_000, 40_000)
            add(
                self._day(rng, leaf),
                amount,
                PAY_TYPES["reception"],
                "公务接待餐费",
                self._vendor(gen, rng, "catering", agency),
                "3",
            )
            limit = th.SANGONG_LIMITS_YUAN["30217"]
            plant.note = f"公务接待费 (30217) of {yuan(amount)} yuan in one payment (limit {limit})"
        elif v == 1:
            amount = self._fen(rng, 30_000, 90_000)
            day = self._day(rng, leaf, (10, 10))
            add(
                day,
                amount,
                PAY_TYPES["meeting"],
                f"预付{plant.year + 1}年度会议场地费",
                self._vendor(gen, rng, "hotel", agency),
                "1",
            )
            plant.note = f"会议费 (30215) prepayment for next year of {yuan(amount)} yuan in Q4 ({day})"
        elif v == 2:
            amount = self._fen(rng, 120_000, 190_000)
            add(
                self._day(rng, leaf),
                amount,
                _ABROAD,
                "因公出国（境）团组费用",
                gen.payees.outside_company("travel"),
                "1",
            )
            plant.note = (
                f"因公出国（境）费用 (30212) of {yuan(amount)} yuan (limit {th.SANGONG_LIMITS_YUAN['30212']})"
            )
        else:
            amount = self._fen(rng, 350_000, 480_000) // 100 * 100
            add(
                self._day(rng, leaf),
                amount,
                _CAR,
                "购置公务用车",
                self._vendor(gen, rng, "auto", agency),
                "1",
            )
            plant.note = (
                f"公务用车购置 (31013) of {yuan(amount)} yuan (limit {th.SANGONG_LIMITS_YUAN['31013']})"
            )

    def suspicious_purpose(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        text = _SUSPICIOUS[plant.variant % len(_SUSPICIOUS)]
        amount = self._fen(rng, 3_000, 30_000)
        payee = (
            gen.payees.outside_company("travel")
            if "旅游" in text
            else self._vendor(gen, rng, "office", agency)
        )
        add(self._day(rng, leaf), amount, _OTHER, text, payee, "1")
        plant.note = f"purpose '{text}', {yuan(amount)} yuan"

    def split_payment(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        day = self._day(rng, leaf)
        payee = gen.payees.vendors(rng, "construction", agency.region, 1)[0]
        parts = 2 + plant.variant % 2
        amounts = [self._fen(rng, 120_000, th.SPLIT_THRESHOLD_YUAN - 5_000) for _ in range(parts)]
        for j, amount in enumerate(amounts):
            add(day, amount, PAY_TYPES["repair"], f"办公楼维修工程款（第{j + 1}笔）", payee, "1")
        plant.note = (
            f"{parts} payments to {payee.name} on {day}: {', '.join(yuan(a) for a in amounts)} yuan, each "
            f"below {th.SPLIT_THRESHOLD_YUAN}, together {yuan(sum(amounts))}"
        )

    def duplicate_payment(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        first = self._day(rng, leaf, (3, 8))
        later = [d for d in window(leaf) if 3 <= (d - first).days <= 20]
        second = later[rng.randrange(len(later))]
        amount = self._fen(rng, 8_000, 80_000) // 100 * 100
        payee = self._vendor(gen, rng, "equipment", agency)
        for day in (first, second):
            add(day, amount, PAY_TYPES["equipment"], "购置办公设备", payee, "1")
        plant.note = f"{yuan(amount)} yuan to {payee.name} for 购置办公设备 on {first} and again on {second}"

    def non_working_day(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        days = window(leaf)
        rests = [d for d in rest_days(plant.year) if days[0] < d < days[-1] and 3 <= d.month <= 9]
        day = rests[rng.randrange(len(rests))]
        amount = self._fen(rng, 500, 6_000)
        add(
            day,
            amount,
            PAY_TYPES["office"],
            "购买办公用品",
            self._vendor(gen, rng, "office", agency),
            "1",
            xday=next_workday(day),
        )
        kind = "weekend" if day.weekday() >= 5 else "public holiday"
        plant.note = f"vou_date {day} ({kind}, {day:%A}) for {yuan(amount)} yuan"

    def unapproved_account(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        spare = gen.orgs.spare_accounts[agency.region.code]
        account = spare[plant.variant % len(spare)]
        amount = self._fen(rng, 20_000, 150_000)
        day = self._day(rng, leaf)
        payee = Payee(account.account_name, account.account_no, account.bank_name, "6")
        add(day, amount, _OTHER, "划转资金至财政专户", payee, "1")
        why = f"closed on {account.closed_on}" if account.closed_on else "without approval document"
        plant.note = f"{yuan(amount)} yuan paid on {day} to 财政专户 {account.account_no} {why}"

    def payee_enterprise_risk(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        industry, ptype = (("office", "office"), ("equipment", "equipment"), ("construction", "repair"))[
            plant.variant % 3
        ]
        company = gen.payees.outside_company(industry)
        day = self._day(rng, leaf)
        amount = self._fen(rng, 3_000, 60_000)
        add(day, amount, PAY_TYPES[ptype], PAY_TYPES[ptype].purposes[0], company, "1")
        risk, source = _ENTERPRISE_RISKS[plant.variant % 3]
        start = day - timedelta(days=20 + rng.randrange(400))
        assert company.uscc is not None
        self.risk_rows.append(("uscc", company.uscc, company.name, risk, source, start.isoformat(), None))
        plant.note = (
            f"payee {company.name} ({company.uscc}) on the risk list ({risk}, since {start}), paid on {day}"
        )

    def missing_classification(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        amount = self._fen(rng, 500, 8_000)
        fields: dict[str, str | None]
        if plant.variant % 2 == 0:
            fields, what = {"exp_func_code": None}, "exp_func_code"
        else:
            fields, what = {"gov_bgt_eco_code": None, "dep_bgt_eco_code": None}, "both economic codes"
        add(
            self._day(rng, leaf),
            amount,
            PAY_TYPES["office"],
            "购买办公用品",
            self._vendor(gen, rng, "office", agency),
            "1",
            fields=fields,
        )
        plant.note = f"payment of {yuan(amount)} yuan without {what}"

    def orphan_reference(
        self, gen: Gen, plant: Plant, agency: Agency, leaf: Indicator, rng: Rng, pays: list[Pay]
    ) -> None:
        add = partial(self._pay, pays, plant, leaf)
        missing = f"{agency.region.code6}{plant.year % 100:02d}9{plant.variant:05d}"
        amount = self._fen(rng, 1_000, 20_000)
        add(
            self._day(rng, leaf),
            amount,
            PAY_TYPES["office"],
            "购买办公用品",
            self._vendor(gen, rng, "office", agency),
            "1",
            fields={"pro_code": missing},
        )
        plant.note = f"payment's pro_code {missing} names no project"
