"""Treasury payments (国库集中支付) generated unit by unit, with their 一卡通 batches.

A unit's payments are drawn in memory, checked as a whole (no payee paid twice on a day, no repeated
payment, year-end share kept low), then written (demo.vouchers) and forgotten, so memory stays bounded
at any scale. Each indicator's paid total and monthly sums are kept; its amount is derived afterwards.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable
from datetime import date

from demo.budget import Budget, Indicator, window
from demo.classify import Codes
from demo.orgs import Agency, Orgs, bank_branch
from demo.payees import INDIVIDUALS_FROM, Payee, Payees
from demo.paytypes import PAY_TYPES, PayType
from demo.profiles import BATCH_ITEMS, OPERATIONS, PROJECTS
from demo.rand import below, cumulative, lognormal_fen, pick_weighted, rng_for
from demo.regions import Region
from demo.schedules import batch_lines, is_scheduled, purpose, schedule
from demo.vouchers import Counters, Pay, Sinks, VoucherWriting

_LEVEL_FACTOR = {1: 2000, 2: 1500, 3: 1000, 4: 600}  # per-mille of a payment type's median
_STAFF = {1: 40, 2: 25, 3: 15, 4: 8}  # staff per size point, by level
NORMAL_YEAR_END_PCT = 22  # normal units keep November–December below this share (rule: 30)


class PaymentGenerator(VoucherWriting):
    def __init__(
        self,
        seed: int,
        budget: Budget,
        orgs: Orgs,
        payees: Payees,
        codes: Codes,
        sinks: Sinks,
        persons_annual: int,
        persons_monthly: int,
    ) -> None:
        self.seed = seed
        self.budget = budget
        self.orgs = orgs
        self.payees = payees
        self.codes = codes
        self.sinks = sinks
        self.persons = {"annual": persons_annual, "monthly": persons_monthly}
        self.counters = Counters()
        #: (region code, year, fund type, 类 of function, month) → fen paid, for gov_exec
        self.exec_paid: dict[tuple[str, int, str, str, int], int] = {}
        self._vendor_count = 3
        self._profile_cache: dict[str, tuple[list[PayType], list[int]]] = {}
        self._villages: dict[str, list[str]] = {}
        self._steady: dict[str, int] = {}  # scheduled indicator → its amount per period
        self._eco_cache: dict[tuple[str, bool, int], tuple[str, str]] = {}
        #: hook for planted anomalies: agency index → callable adding planted payments
        self.plant_hook: Callable[[PaymentGenerator, Agency, random.Random, list[Pay]], None] | None = None
        self.deleted_every = 997  # one deleted copy (作废重开) per this many normal payments

    # --- helpers ------------------------------------------------------------------------------------
    def profile_types(self, profile: str) -> tuple[list[PayType], list[int]]:
        if profile not in self._profile_cache:
            mix = OPERATIONS[profile[4:]] if profile.startswith("ops:") else PROJECTS[profile][1]
            self._profile_cache[profile] = ([PAY_TYPES[k] for k, _ in mix], cumulative([w for _, w in mix]))
        return self._profile_cache[profile]

    def person_county(self, agency: Agency) -> Region:
        """The county whose people a unit pays: its own, or the first county of its city."""
        region = agency.region
        if region.level >= 3:
            return region.county
        city = region if region.level == 2 else self.payees.province.cities[0]
        return city.children[0] if city.children else city

    def unit(self, agency: Agency, leaves: list[Indicator]) -> list[Pay]:
        rng = rng_for(self.seed, "pay", agency.index)
        pays: list[Pay] = []
        vendors: dict[str, list[Payee]] = {}
        # a big unit spreads its business over more suppliers, so none is paid twice a day
        self._vendor_count = 3 + sum(leaf.n_pay for leaf in leaves) // 120
        seq = 0
        factor = _LEVEL_FACTOR[agency.region.level] * agency.size // 2
        for leaf in leaves:
            if leaf.n_pay <= 0 and not is_scheduled(leaf.profile):
                continue
            if is_scheduled(leaf.profile):
                for day, months in schedule(leaf):
                    pays.append(self._scheduled(rng, agency, leaf, day, months, factor, seq, vendors))
                    seq += 1
            else:
                days = window(leaf)
                if not days:
                    continue
                types, cum = self.profile_types(leaf.profile)
                late_start = len(days) < 170
                for i in range(leaf.n_pay):
                    ptype = pick_weighted(rng, types, cum)
                    if i == 0:
                        day = days[below(rng, min(45, len(days)))]
                    elif late_start:
                        day = days[min(below(rng, len(days)), below(rng, len(days)))]
                    else:
                        day = days[below(rng, len(days))]
                    pays.append(self._free(rng, agency, leaf, ptype, day, factor, seq, vendors, i == 0))
                    seq += 1
        if self.plant_hook is not None:
            self.plant_hook(self, agency, rng, pays)
        return pays

    def _payee(
        self, rng: random.Random, agency: Agency, ptype: PayType, vendors: dict[str, list[Payee]]
    ) -> Payee:
        kind = ptype.payee
        if kind in ("water", "power", "telecom"):
            return self.payees.utility(kind, agency.region)
        if kind == "person":
            county = self.person_county(agency)
            return self.payees.person_payee(county, INDIVIDUALS_FROM + below(rng, 4000))
        if kind == "fin_account":
            acct = self.orgs.special_accounts[agency.region.code]
            return Payee(acct.account_name, acct.account_no, acct.bank_name, "6")
        if kind == "village":
            town = agency.region
            names = self.villages(town)
            i = below(rng, len(names))
            return self.payees.village_payee(town, names[i], i)
        if kind not in vendors:
            vendors[kind] = self.payees.vendors(rng, kind, agency.region, self._vendor_count)
        options = vendors[kind]
        # a unit's first suppliers get more of its business (never so much that one is paid twice a day)
        n = len(options)
        return options[min(below(rng, n), below(rng, n)) if n > 3 else below(rng, n)]

    def _free(
        self,
        rng: random.Random,
        agency: Agency,
        leaf: Indicator,
        ptype: PayType,
        day: date,
        factor: int,
        seq: int,
        vendors: dict[str, list[Payee]],
        first: bool,
    ) -> Pay:
        median = ptype.median_yuan * 100
        if ptype.mode != "card":
            median = median * factor // 1000
        amount = _capped(rng, lognormal_fen(rng, median, ptype.sigma), ptype.max_yuan * 100)
        if ptype.round_fen > 1:
            amount = max(ptype.round_fen, amount // ptype.round_fen * ptype.round_fen)
        if ptype.mode == "card":
            set_mode = "3"
        elif ptype.mode == "small" and amount < 200_000 and below(rng, 100) < 3:
            set_mode = "2"
        elif ptype.mode == "small" and amount < 500_000 and below(rng, 100) < 25:
            set_mode = "3"
        else:
            set_mode = "1"
        template = ptype.purposes[below(rng, len(ptype.purposes))]
        payee = self._payee(rng, agency, ptype, vendors)
        return Pay(leaf, day, amount, ptype, template, payee, set_mode, seq, first=first)

    def _scheduled(
        self,
        rng: random.Random,
        agency: Agency,
        leaf: Indicator,
        day: date,
        months: tuple[int, ...],
        factor: int,
        seq: int,
        vendors: dict[str, list[Payee]],
    ) -> Pay:
        profile = leaf.profile
        if profile == "salary":
            staff = agency.size * _STAFF[agency.region.level]
            monthly = staff * (880_000 + (agency.index * 7919) % 240_000)
            amount = sum(monthly * (990 + below(rng, 21)) // 1000 for _ in months)
            payee = self.payees.payroll(agency.bank, agency.bank_name, agency.region, agency.index)
            return Pay(
                leaf,
                day,
                amount,
                PAY_TYPES["salary"],
                "发放{y}年{pm}月工资",
                payee,
                "1",
                seq,
                fixed=True,
                months=months,
            )
        if profile.startswith("batch:"):
            item = BATCH_ITEMS[profile[6:]]
            towns = self.budget.pension_towns.get(agency.index) or list(agency.region.children)
            persons = self.persons["annual" if len(item.months) == 1 else "monthly"]
            lines = batch_lines(
                item,
                towns,
                leaf.year,
                months,
                persons,
                self.payees.person,
                city_level=agency.region.level < 3,
            )
            county = towns[0].parent
            assert county is not None
            for line in lines:
                line.bank = bank_branch(line.bank, county)
            payee = self.payees.subsidy_bank(county)
            return Pay(
                leaf,
                day,
                sum(x.amount for x in lines),
                None,
                purpose(item, leaf.year, months),
                payee,
                "1",
                seq,
                fixed=True,
                months=months,
                lines=lines,
            )
        ptype = self.profile_types(profile)[0][0]
        base = self._steady.get(leaf.bgt_id)
        if base is None:
            median = ptype.median_yuan * 100 * factor // 1000
            base = _capped(rng, lognormal_fen(rng, median, ptype.sigma), ptype.max_yuan * 100)
            self._steady[leaf.bgt_id] = base
        amount = sum(base * (970 + below(rng, 61)) // 1000 for _ in months)
        amount = max(ptype.round_fen, amount // ptype.round_fen * ptype.round_fen)
        return Pay(
            leaf,
            day,
            amount,
            ptype,
            ptype.purposes[0],
            self._payee(rng, agency, ptype, vendors),
            "1",
            seq,
            fixed=True,
            months=months,
        )

    # --- checks over one unit -------------------------------------------------------------------------
    def smooth_year_end(
        self,
        rng: random.Random,
        pays: list[Pay],
        target_pct: int = NORMAL_YEAR_END_PCT,
        taken: set[tuple[str, date]] | None = None,
    ) -> None:
        """Move the largest movable November–December payments of 2025 into September–October.

        With ``taken`` (payee, day) pairs, a payment only moves to a day its payee is still free.
        """
        year_pays = [p for p in pays if p.day.year == 2025]
        total = sum(p.amount for p in year_pays)
        late = sum(p.amount for p in year_pays if p.day.month >= 11)
        if late * 100 <= target_pct * total:
            return
        movable = sorted(
            (p for p in year_pays if p.day.month >= 11 and movable_pay(p)), key=lambda p: (-p.amount, p.seq)
        )
        for p in movable:
            assert p.leaf is not None
            days = [d for d in window(p.leaf) if date(2025, 9, 1) <= d <= date(2025, 10, 31)]
            if taken is not None:
                days = [d for d in days if (p.payee.acct_no, d) not in taken]
            if not days:
                continue
            if taken is not None:
                taken.discard((p.payee.acct_no, p.day))
            p.day = days[below(rng, len(days))]
            if taken is not None:
                taken.add((p.payee.acct_no, p.day))
            late -= p.amount
            if late * 100 <= target_pct * total:
                return

    def rush_year_end(self, rng: random.Random, pays: list[Pay], target_pct: int) -> bool:
        """Planted year_end_rush: move payments of 2025 into November–December until they exceed the rule."""
        year_pays = [p for p in pays if p.day.year == 2025]
        total = sum(p.amount for p in year_pays)
        late = sum(p.amount for p in year_pays if p.day.month >= 11)
        movable = sorted(
            (
                p
                for p in year_pays
                if p.day.month < 11 and p.leaf is not None and not p.fixed and p.plant is None
            ),
            key=lambda p: (-p.amount, p.seq),
        )
        for p in movable:
            if late * 100 >= target_pct * total:
                break
            assert p.leaf is not None
            days = [d for d in window(p.leaf) if d >= date(2025, 11, 3)]
            if not days:
                continue
            p.day = days[below(rng, len(days))]
            late += p.amount
        return late * 100 >= target_pct * total

    def resolve_collisions(self, rng: random.Random, pays: list[Pay]) -> set[tuple[str, date]]:
        """No payee paid twice by a unit on one day.

        A colliding payment moves to the nearest day its payee is free (alternately later and earlier, so
        dates do not drift); returns the (payee account, day) pairs taken.
        """
        taken: set[tuple[str, date]] = set()
        for p in sorted(pays, key=lambda p: (p.plant is None, p.day, p.seq)):
            key = p.payee.acct_no
            if p.plant is None and (key, p.day) in taken:
                p.day = _free_day(p, key, taken)
            taken.add((key, p.day))
        return taken

    @staticmethod
    def separate_amounts(pays: list[Pay]) -> None:
        """No payee paid the same amount twice within the duplicate window: a repeat is changed by a fen."""
        seen: dict[tuple[str, int], list[date]] = {}
        for p in sorted(pays, key=lambda p: (p.plant is None, p.day, p.seq)):
            key = p.payee.acct_no
            if p.plant is None and p.lines is None:
                while any(abs((p.day - d).days) <= 31 for d in seen.get((key, p.amount), ())):
                    p.amount += 1
            seen.setdefault((key, p.amount), []).append(p.day)

    def settle(self, rng: random.Random, pays: list[Pay], rushed: bool) -> None:
        """Make a unit's payments consistent before they are written (see the checks above)."""
        if not rushed:
            self.smooth_year_end(rng, pays)
        taken = self.resolve_collisions(rng, pays)
        if not rushed:
            self.smooth_year_end(rng, pays, taken=taken)
        self.separate_amounts(pays)

    # --- writing ----------------------------------------------------------------------------------------


def movable_pay(p: Pay) -> bool:
    return p.leaf is not None and not p.fixed and not p.first and p.plant is None


def _capped(rng: random.Random, amount: int, cap: int) -> int:
    """An amount drawn beyond a payment type's maximum falls back below it, not onto it."""
    return amount if amount <= cap else cap // 2 + below(rng, cap // 2)


def _free_day(p: Pay, key: str, taken: set[tuple[str, date]]) -> date:
    """The nearest working day to ``p.day`` on which the payee is not yet paid by the unit."""
    if p.leaf is None:
        return p.day
    days = window(p.leaf)
    if p.fixed:  # a scheduled payment stays in its month
        days = tuple(d for d in days if d.month == p.day.month)
    i = bisect_left(days, p.day)
    for step in range(1, len(days) + 1):
        for j in (i + step, i - step):
            if 0 <= j < len(days) and (key, days[j]) not in taken:
                return days[j]
    return p.day
