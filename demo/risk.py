"""ext_risk: credit and eligibility records of enterprises and persons (市场监管, 法院, 税务, 公安 …).

Besides the records behind planted anomalies, the list holds decoys a rule must not fire on: companies
and persons never paid, and paid ones whose record expired before 2025.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from demo.payees import GHOSTS_FROM, Payees
from demo.plants import RiskRow
from demo.regions import Province
from demo.schedules import town_rank

_COMPANY = (("dishonest_debtor", "court"), ("abnormal_operation", "samr"), ("deregistered", "samr"))
_PERSON = (
    ("deceased", "public_security"),
    ("public_employee", "hrss"),
    ("property_deed_tax", "tax"),
    ("vehicle_owner", "public_security"),
)


def decoys(rng: random.Random, payees: Payees, province: Province, count: int) -> list[RiskRow]:
    rows: list[RiskRow] = []
    for i in range(count):  # companies nobody pays, currently on the list
        risk, source = _COMPANY[i % 3]
        company = payees.outside_company(("construction", "office", "equipment")[i % 3])
        assert company.uscc is not None
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(1000))
        rows.append(("uscc", company.uscc, company.name, risk, source, start.isoformat(), None))
    registered = sorted({i for ids in payees.by_industry.values() for i in ids})
    for i in rng.sample(registered, min(count, len(registered))):  # paid companies, records long expired
        risk, source = _COMPANY[i % 2 + 1]
        company = payees.companies[i]
        assert company.uscc is not None
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(700))
        end = min(start + timedelta(days=90 + rng.randrange(400)), date(2024, 12, 31))
        rows.append(("uscc", company.uscc, company.name, risk, source, start.isoformat(), end.isoformat()))
    counties = [c for c in province.counties if c.children]
    for i in range(count):  # persons never paid, currently on the list
        county = counties[rng.randrange(len(counties))]
        name, iden, _, _ = payees.person(county, GHOSTS_FROM + 5_000 + i)
        risk, source = _PERSON[i % 4]
        start = date(2022, 1, 1) + timedelta(days=rng.randrange(1200))
        rows.append(("iden_no", iden, name, risk, source, start.isoformat(), None))
    for _ in range(count):  # 耕地地力 recipients whose vehicle record ended before 2025
        county = counties[rng.randrange(len(counties))]
        town = county.children[rng.randrange(len(county.children))]
        name, iden, _, _ = payees.person(county, town_rank(town) * 600 + rng.randrange(5))
        start = date(2018, 1, 1) + timedelta(days=rng.randrange(1500))
        rows.append(
            ("iden_no", iden, name, "vehicle_owner", "public_security", start.isoformat(), "2024-06-30")
        )
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for row in rows:
        key = (row[1], row[3], row[4])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique
