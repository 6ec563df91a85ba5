"""Writing payments: vouchers, their 一卡通 detail lines and the monthly plans of each indicator.

``VoucherWriting`` is the half of ``demo.payments.PaymentGenerator`` that turns drawn payments into rows
of pay_voucher, pay_detail and pay_plan, and keeps what the amounts and gov_exec are derived from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from demo.budget import Indicator
from demo.classify import Codes
from demo.names import MEETINGS, TRAININGS, village_name
from demo.orgs import Agency
from demo.payees import Payee
from demo.paytypes import PayType
from demo.profiles import BATCH_ITEMS
from demo.rand import below, rng_for, round_up, yuan
from demo.regions import Region
from demo.schedules import Line
from demo.workdays import next_workday
from demo.writers import FIELDS, TableWriter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from demo.anomalies import Plant

_ONE_DAY = timedelta(days=1)
_VOUCHER_INDEX = {name: i for i, name in enumerate(FIELDS["pay_voucher"])}


@lru_cache(maxsize=4096)
def _iso(d: date) -> str:
    return d.isoformat()


@lru_cache(maxsize=64)
def _plan_stamp(year: int, month: int) -> str:
    return f"{date(year, month, 1) - timedelta(days=6)}T10:00:00+08:00"


def _by_day(p: Pay) -> tuple[date, int]:
    return p.day, p.seq


@dataclass(slots=True)
class Pay:
    leaf: Indicator | None
    day: date
    amount: int
    ptype: PayType | None
    template: str
    payee: Payee
    set_mode: str
    seq: int
    fixed: bool = False
    first: bool = False
    plant: object = None  # a demo.anomalies.Plant the payment belongs to
    months: tuple[int, ...] = ()
    lines: list[Line] | None = None
    fields: dict[str, str | None] | None = None  # planted overrides of written fields
    xday: date | None = None
    amount_delta: int = 0  # detail_mismatch: voucher amount minus the sum of its lines


@dataclass(slots=True)
class Sinks:
    vouchers: TableWriter
    details: TableWriter
    plans: TableWriter


@dataclass(slots=True)
class Counters:
    pay: int = 0
    detail: int = 0
    plan: int = 0
    contract: int = 0
    voucher_no: dict[tuple[str, int], int] = field(default_factory=dict)


class VoucherWriting:
    """Writes a unit's payments; the generator provides the attributes annotated here."""

    seed: int
    codes: Codes
    sinks: Sinks
    counters: Counters
    exec_paid: dict[tuple[str, int, str, str, int], int]
    monthly_of_unit: dict[str, dict[int, int]]
    deleted_every: int
    _villages: dict[str, list[str]]
    _eco_cache: dict[tuple[str, bool, int], tuple[str, str]]

    def villages(self, region: Region) -> list[str]:
        if region.code not in self._villages:
            rng = rng_for(self.seed, "villages", region.code)
            names: list[str] = []
            while len(names) < 8:
                v = village_name(rng)
                if v not in names:
                    names.append(v)
            self._villages[region.code] = names
        return self._villages[region.code]

    def next_id(self) -> str:
        self.counters.pay += 1
        return f"PV{self.counters.pay:09d}"

    # --- one unit -----------------------------------------------------------------------------------
    def emit(self, agency: Agency, pays: list[Pay], rng: random.Random) -> None:
        """Write a unit's payments in date order; keep each indicator's paid total and monthly sums."""
        monthly: dict[str, dict[int, int]] = {}
        leaves: dict[str, Indicator] = {}
        region = agency.region
        county_code = region.code if region.level < 4 else region.county.code
        write = self._write_voucher
        for p in sorted(pays, key=_by_day):
            pay_id = write(agency, p, rng)
            if p.plant is not None:
                p.plant.ids.append(pay_id)  # type: ignore[attr-defined]
            leaf = p.leaf
            if leaf is None:
                continue
            amount = p.amount + p.amount_delta
            if p.fields is not None and p.fields.get("bgt_id", leaf.bgt_id) != leaf.bgt_id:
                # paid without (or against another) indicator: counted in execution by its function only
                key = (county_code, p.day.year, leaf.fund_type, leaf.exp_func[:3], p.day.month)
                self.exec_paid[key] = self.exec_paid.get(key, 0) + amount
                continue
            leaf.paid += amount
            if leaf.first_pay is None:
                leaf.first_pay = p.day
            sums = monthly.get(leaf.bgt_id)
            if sums is None:
                sums = monthly[leaf.bgt_id] = {}
                leaves[leaf.bgt_id] = leaf
            month = p.day.month
            sums[month] = sums.get(month, 0) + amount
        for bgt_id, sums in monthly.items():
            leaf = leaves[bgt_id]
            cls = leaf.exp_func[:3]
            for month, amount in sums.items():
                key = (county_code, leaf.year, leaf.fund_type, cls, month)
                self.exec_paid[key] = self.exec_paid.get(key, 0) + amount
        self.monthly_of_unit = monthly

    def _codes_of(self, ptype: PayType, admin: bool, year: int) -> tuple[str, str]:
        key = (ptype.key, admin, year)
        codes = self._eco_cache.get(key)
        if codes is None:
            gov = self.codes.valid("gov_eco", ptype.gov_admin if admin else ptype.gov_inst, year)
            codes = (gov, self.codes.valid("dep_eco", ptype.dep_eco, year))
            self._eco_cache[key] = codes
        return codes

    def _write_voucher(self, agency: Agency, p: Pay, rng: random.Random, deleted: bool = False) -> str:
        c = self.counters
        pay_id = self.next_id()
        day = p.day
        year = day.year
        region = agency.region
        vk = (region.code, year)
        n = c.voucher_no.get(vk, 0) + 1
        c.voucher_no[vk] = n
        leaf = p.leaf
        ptype = p.ptype
        bits = rng.getrandbits(32)
        xday = p.xday or (day if bits % 10 < 7 else next_workday(day + _ONE_DAY))
        amount = p.amount + p.amount_delta
        gov: str | None
        dep: str | None
        if ptype is not None:
            gov, dep = self._codes_of(ptype, agency.agency_type == "行政", year)
        elif p.lines is not None and leaf is not None:
            item = BATCH_ITEMS[leaf.profile[6:]]
            gov, dep = item.gov_eco, item.dep_eco
        else:
            gov, dep = None, None
        contract = None
        if ptype is not None and ptype.round_fen >= 100 and p.amount >= 10_000_000:
            c.contract += 1
            contract = f"HT{region.code6}{year}{c.contract:06d}"
        pay_type = "1" if p.amount >= 5_000_000 or p.fixed or (bits >> 4) % 100 < 55 else "2"
        payee = p.payee
        xiso = _iso(xday)
        stamp = f"{xiso}T{9 + (bits >> 11) % 9:02d}:{(bits >> 15) % 60:02d}:{(bits >> 21) % 60:02d}+08:00"
        row: tuple[str | None, ...] = (
            pay_id,
            f"{region.code6}{year % 100:02d}{n:07d}",
            leaf.bgt_id if leaf else None,
            str(year),
            region.code,
            agency.code,
            leaf.pro_code if leaf else None,
            _iso(day),
            xiso,
            yuan(amount),
            agency.name,
            agency.zba_no,
            agency.bank_name,
            payee.name,
            payee.acct_no,
            payee.bank_name,
            payee.payee_type,
            payee.uscc,
            payee.iden_no,
            self.render(p, rng),
            p.set_mode,
            pay_type,
            leaf.fund_type if leaf else "1",
            leaf.exp_func if leaf else None,
            gov,
            dep,
            contract,
            "1" if deleted else "0",
            stamp,
        )
        if p.fields:
            values = list(row)
            for name, value in p.fields.items():
                values[_VOUCHER_INDEX[name]] = value
            row = tuple(values)
        self.sinks.vouchers.write(row)
        if p.lines is not None and not deleted:
            self._write_lines(pay_id, p, xday, region)
        if (
            not deleted
            and p.plant is None
            and not p.fixed
            and p.lines is None
            and self.counters.pay % self.deleted_every == 0
        ):
            self._write_deleted_copy(agency, p, rng, day)
        return pay_id

    def _write_deleted_copy(self, agency: Agency, p: Pay, rng: random.Random, day: date) -> None:
        """A voucher keyed in and then voided (作废): is_deleted = 1, to be ignored by every figure."""
        saved = p.xday
        p.xday = day
        self._write_voucher(agency, p, rng, deleted=True)
        p.xday = saved

    def _write_lines(self, pay_id: str, p: Pay, xday: date, region: Region) -> None:
        c = self.counters
        assert p.lines is not None
        county6 = p.lines[0].town[:6] if p.lines else region.code6
        xiso = _iso(xday)
        stamp = f"{xiso}T16:30:00+08:00"
        for line in p.lines:
            c.detail += 1
            detail_id = f"PD{c.detail:010d}"
            if line.tag is not None:
                line.tag.ids.append(detail_id)  # type: ignore[attr-defined]
            self.sinks.details.write(
                (
                    detail_id,
                    pay_id,
                    line.name,
                    line.card,
                    line.bank,
                    yuan(line.amount),
                    xiso,
                    line.name,
                    line.iden,
                    None,
                    None,
                    line.town,
                    line.village,
                    line.pay_month,
                    line.item,
                    f"{county6}{line.pay_month[:4]}{c.detail:010d}",
                    "0",
                    stamp,
                )
            )

    def render(self, p: Pay, rng: random.Random) -> str:
        """The purpose text: the template with its placeholders filled (only those it has)."""
        t = p.template
        if "{" not in t:
            return t
        day = p.day
        values: dict[str, object] = {}
        months = p.months
        if months and "{m}" in t:  # a bill paid the month after: name the months billed
            months = tuple(m - 1 for m in months if m > 1)
            t = t.replace("{m}", "{pm}")
        if "{m}" in t:
            values["y"], values["m"] = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
        else:
            values["y"] = day.year
        if "{pm}" in t:
            values["pm"] = (
                (str(months[0]) if len(months) == 1 else f"{months[0]}-{months[-1]}") if months else day.month
            )
        if "{q}" in t:
            values["q"] = (day.month - 1) // 3 + 1
        if "{n}" in t:
            values["n"] = 2 + below(rng, 28)
        if "{meeting}" in t:
            values["meeting"] = MEETINGS[below(rng, len(MEETINGS))]
        if "{training}" in t:
            values["training"] = TRAININGS[below(rng, len(TRAININGS))]
        if "{village}" in t:
            assert p.leaf is not None
            region = p.leaf.region
            town = region if region.level == 4 else (region.children[0] if region.children else region)
            names = self.villages(town)
            values["village"] = names[below(rng, len(names))]
        return t.format_map(values)

    def write_plans(
        self, agency: Agency, leaves: list[Indicator], rng: random.Random, short: Mapping[str, Plant]
    ) -> None:
        """One plan line per indicator and month with payments, covering them (except planted over_plan)."""
        monthly = self.monthly_of_unit
        for leaf in leaves:
            sums = monthly.get(leaf.bgt_id)
            if not sums:
                continue
            plant = short.get(leaf.bgt_id)
            short_month = max(sums, key=lambda m: (sums[m], m)) if plant is not None else 0
            total = 0
            for month in sorted(sums):
                paid = sums[month]
                if month == short_month:
                    plan = paid * (550 + below(rng, 250)) // 1000 // 10_000 * 10_000 or paid // 2
                else:
                    plan = round_up(
                        paid * (1000 + below(rng, 40)) // 1000, 1_000 if paid < 1_000_000 else 10_000
                    )
                total += plan
                plan_id = self.write_plan(leaf, month, plan)
                if plant is not None and month == short_month:
                    plant.ids.append(plan_id)
                    plant.note = (
                        f"paid {yuan(paid)} yuan in {leaf.year}-{month:02d} against a plan of "
                        f"{yuan(plan)} (plan {plan_id})"
                    )
            leaf.plan_sum = total

    def write_plan(self, leaf: Indicator, month: int, plan: int) -> str:
        self.counters.plan += 1
        plan_id = f"JH{self.counters.plan:010d}"
        agency = leaf.agency
        assert agency is not None
        self.sinks.plans.write(
            (
                plan_id,
                leaf.bgt_id,
                str(leaf.year),
                str(month),
                yuan(plan),
                leaf.region.code,
                agency.code,
                "0",
                _plan_stamp(leaf.year, month),
            )
        )
        return plan_id
