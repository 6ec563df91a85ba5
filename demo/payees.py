"""Who gets paid: companies (with valid credit codes), utilities, banks, persons (with valid ID numbers).

Companies are few and shared, so one payee's money can be followed across the units, regions and years
that paid it. Persons are derived from (county, index) on demand and never stored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from demo import ids
from demo.names import INDUSTRIES, SUBSIDY_BANKS, NamePool
from demo.orgs import bank_branch
from demo.rand import cumulative, pick_weighted
from demo.regions import Province, Region


@dataclass(frozen=True, slots=True)
class Payee:
    name: str
    acct_no: str
    bank_name: str
    payee_type: str  # feeds.md payee_type
    uscc: str | None = None
    iden_no: str | None = None


_POOL_WEIGHTS = {
    "construction": 22,
    "office": 10,
    "it": 8,
    "equipment": 10,
    "medical": 8,
    "hotel": 8,
    "catering": 8,
    "meals": 5,
    "property": 5,
    "printing": 5,
    "consulting": 8,
    "auto": 6,
    "agri": 6,
    "training": 4,
    "environment": 3,
    "soe": 1,
}

#: person index ranges within a county (see demo.ids.person_id): 一卡通 recipients by township,
#: individual payees of vouchers, and people who only appear in anomalies and the risk list
RECIPIENT_BLOCK = 600
INDIVIDUALS_FROM = 20_000
GHOSTS_FROM = 30_000


class Payees:
    def __init__(self, seed: int, province: Province, names: NamePool, size: int) -> None:
        self.rng = random.Random(f"{seed}|payees")
        self.province = province
        self.names = names
        _NAMES[:] = [names]
        _person.cache_clear()
        self._trade = iter(names.trade)
        self._used_names: set[str] = set()
        self.companies: list[Payee] = []
        self.by_industry_city: dict[tuple[str, str], list[int]] = {}
        self.by_industry: dict[str, list[int]] = {}
        industries = sorted(_POOL_WEIGHTS)
        cum = cumulative([_POOL_WEIGHTS[k] for k in industries])
        for industry in industries:  # every industry is represented at least a few times
            for _ in range(3):
                self._company(industry)
        while len(self.companies) < size:
            self._company(pick_weighted(self.rng, industries, cum))
        self.utilities: dict[tuple[str, str], Payee] = {}
        self.subsidy_banks: dict[str, Payee] = {}

    def _company(self, industry: str, city: Region | None = None, register: bool = True) -> int:
        rng = self.rng
        cities = self.province.cities
        city = city or cities[rng.randrange(len(cities))]
        template = INDUSTRIES[industry][rng.randrange(len(INDUSTRIES[industry]))]
        while True:
            name = template.format(p="河南", c=city.short, z=next(self._trade))
            if name not in self._used_names:
                break
        self._used_names.add(name)
        index = len(self.companies)
        uscc = ids.uscc("9", "1", city.code6, ids.org_code(50_000 + index * 7, letters=True))
        bank = ("中国工商银行", "中国建设银行", "中国银行", "中国农业银行", "中原银行")[rng.randrange(5)]
        payee = Payee(
            name,
            ids.account_no(bank, city.code6, 500_000_000 + index),
            bank_branch(bank, city),
            "3",
            uscc=uscc,
        )
        self.companies.append(payee)
        if register:
            self.by_industry_city.setdefault((industry, city.code), []).append(index)
            self.by_industry.setdefault(industry, []).append(index)
        return index

    def outside_company(self, industry: str) -> Payee:
        """A company that no unit pays in normal business (risk-list decoys and planted risky payees)."""
        return self.companies[self._company(industry, register=False)]

    def vendors(self, rng: random.Random, industry: str, region: Region, n: int = 3) -> list[Payee]:
        """A unit's regular suppliers of one industry: mostly from its own city, some from elsewhere."""
        local = self.by_industry_city.get((industry, region.city.code), [])
        anywhere = self.by_industry[industry]
        picked = rng.sample(local, min(len(local), n - n // 3 - (1 if n <= 3 else 0)))
        chosen = set(picked)
        while len(picked) < min(n, len(anywhere)):
            i = anywhere[rng.randrange(len(anywhere))]
            if i not in chosen:
                picked.append(i)
                chosen.add(i)
        return [self.companies[i] for i in picked]

    def utility(self, kind: str, region: Region) -> Payee:
        city = region.city
        key = (kind, city.code)
        if key not in self.utilities:
            name = {
                "water": f"{city.short}市自来水有限公司",
                "power": f"国网河南省电力公司{city.short}供电公司",
                "telecom": f"中国移动通信集团河南有限公司{city.short}分公司",
            }[kind]
            if region.level == 1:
                name = {
                    "water": "郑州水务集团有限公司",
                    "power": "国网河南省电力公司郑州供电公司",
                    "telecom": "中国移动通信集团河南有限公司",
                }[kind]
            n = len(self.utilities)
            bank = "中国工商银行"
            self.utilities[key] = Payee(
                name,
                ids.account_no(bank, city.code6, 700_000_000 + n),
                bank_branch(bank, city),
                "3",
                uscc=ids.uscc("9", "1", city.code6, ids.org_code(900_000 + n * 11, letters=True)),
            )
        return self.utilities[key]

    def payroll(self, bank: str, bank_name: str, region: Region, serial: int) -> Payee:
        return Payee(bank_name, ids.account_no(bank, region.code6, 600_000_000 + serial), bank_name, "9")

    def subsidy_bank(self, county: Region) -> Payee:
        if county.code not in self.subsidy_banks:
            bank = SUBSIDY_BANKS[county.county_index % len(SUBSIDY_BANKS)]
            branch = bank_branch(bank, county)
            self.subsidy_banks[county.code] = Payee(
                branch, ids.account_no(bank, county.code6, 800_000_000 + county.county_index), branch, "9"
            )
        return self.subsidy_banks[county.code]

    def person(self, county: Region, k: int) -> tuple[str, str, str, str]:
        """(name, ID number, card number, bank) of person ``k`` of a county."""
        return _person(county.county_index, county.code6, k)

    def person_payee(self, county: Region, k: int) -> Payee:
        name, iden, card, bank = self.person(county, k)
        return Payee(name, card, bank_branch(bank, county), "4", iden_no=iden)

    def village_payee(self, town: Region, village: str, serial: int) -> Payee:
        bank = "河南农村商业银行"
        return Payee(
            f"{town.full_name}{village}村民委员会",
            ids.account_no(bank, town.code6, 300_000_000 + serial),
            bank_branch(bank, town),
            "9",
            uscc=ids.uscc(
                "5", "4", town.code6, ids.org_code(2_000_000 + town.index * 50 + serial, letters=False)
            ),
        )


_NAMES: list[NamePool] = []


@lru_cache(maxsize=200_000)
def _person(county_index: int, county6: str, k: int) -> tuple[str, str, str, str]:
    female = (k * 7 + county_index) % 2 == 0
    pool = _NAMES[0].female if female else _NAMES[0].male
    name = pool[(k * 2_654_435_761 + county_index * 97) % len(pool)]
    iden, _ = ids.person_id(county_index, county6, k, female)
    bank = SUBSIDY_BANKS[county_index % len(SUBSIDY_BANKS)]
    return name, iden, ids.card_no(bank, county_index, k), bank
