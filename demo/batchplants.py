"""Anomalies planted in 一卡通 batches, and the year-end rush planted on a unit's payments.

A planted detail line is added to (or dropped from) one batch voucher of the host indicator; the
voucher's amount follows the lines, except for detail_mismatch, where it is the point.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from demo.anomalies import Plant, PlantPlan
from demo.orgs import Agency
from demo.payees import GHOSTS_FROM
from demo.payees import _person as raw_person
from demo.payments import PaymentGenerator
from demo.rand import pct_text, yuan
from demo.regions import Region
from demo.vouchers import Pay
from monitor import thresholds as th

RiskRow = tuple[str, str, str, str, str, str, str | None]
_PERSON_RISKS = (
    ("deceased", "public_security"),
    ("public_employee", "hrss"),
    ("property_deed_tax", "tax"),
    ("vehicle_owner", "public_security"),
)


class Marker:
    """Marks a voucher as planted (never moved); collects its id where the finding is about the voucher."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids


def plant_in_batch(
    plant: Plant, pays: list[Pay], rng: random.Random, regions: dict[str, Region], risk_rows: list[RiskRow]
) -> None:
    batches = [p for p in pays if p.leaf is plant.leaf and p.lines and p.plant is None]
    if not batches:
        plant.ok = False
        return
    pay = batches[rng.randrange(len(batches))]
    lines = pay.lines
    assert lines is not None
    if plant.rule == "detail_mismatch":
        pay.plant = Marker(plant.ids)  # the finding is about the voucher
        if plant.variant % 2 == 0:
            delta = (1 if rng.randrange(2) else -1) * (100 + rng.randrange(50_000))
            pay.amount_delta = delta
            plant.note = (
                f"voucher pay_amt differs from the sum of its {len(lines)} lines by {yuan(delta)} yuan"
            )
        else:
            dropped = lines.pop(rng.randrange(len(lines)))
            pay.amount -= dropped.amount
            pay.amount_delta = dropped.amount
            plant.note = (
                f"voucher pay_amt {yuan(pay.amount + pay.amount_delta)} yuan, its lines sum to "
                f"{yuan(pay.amount)}: one recipient's line of {yuan(dropped.amount)} is missing"
            )
        return
    pay.plant = Marker([])  # planted lines: keep the voucher where it is
    base = lines[rng.randrange(len(lines))]
    if plant.rule == "beneficiary_risk":
        county = regions[base.town].parent
        assert county is not None
        name, iden, card, _ = raw_person(county.county_index, county.code6, GHOSTS_FROM + plant.variant)
        ghost = replace(base, name=name, iden=iden, card=card, tag=plant)
        lines.append(ghost)
        pay.amount += ghost.amount
        risk, source = _PERSON_RISKS[plant.variant % len(_PERSON_RISKS)]
        start = pay.day - timedelta(days=30 + rng.randrange(600))
        risk_rows.append(("iden_no", iden, name, risk, source, start.isoformat(), None))
        plant.note = (
            f"{base.item} {base.pay_month} of {yuan(ghost.amount)} yuan paid on {pay.day} to a recipient "
            f"on the risk list since {start} ({risk})"
        )
        return
    # duplicate_beneficiary: the same person twice for one subsidy and month, or under a second township
    other_towns = sorted({x.town for x in lines if x.town != base.town})
    copy = replace(base, tag=plant)
    if other_towns and plant.variant % 2 == 1:
        copy.town = other_towns[0]
        copy.village = f"{other_towns[0]}2{rng.randrange(10):02d}"
        plant.note = (
            f"{base.item} {base.pay_month} paid to one ID number under townships {base.town}, {copy.town}"
        )
    else:
        plant.note = f"{base.item} {base.pay_month} paid twice to one ID number in one batch"
    base.tag = plant
    lines.append(copy)
    pay.amount += copy.amount


def rush(
    plan: PlantPlan,
    gen: PaymentGenerator,
    agency: Agency,
    rng: random.Random,
    pays: list[Pay],
    wanted: int,
    done: int,
) -> bool:
    """Plant year_end_rush on a candidate unit while fewer than ``wanted`` are planted; True when planted."""
    plant = plan.rush.get(agency.index)
    if plant is None or done >= wanted:
        return False
    if not gen.rush_year_end(rng, pays, th.YEAR_END_RUSH_SHARE_PCT + 15):
        plant.ok = False
        return False
    year = [p for p in pays if p.day.year == 2025]
    total = sum(p.amount + p.amount_delta for p in year)
    late = sum(p.amount + p.amount_delta for p in year if p.day.month in th.YEAR_END_MONTHS)
    plant.note = (
        f"{agency.name}: {yuan(late)} of {yuan(total)} yuan paid in 2025 fell in November–December "
        f"({pct_text(late, total)}, threshold {th.YEAR_END_RUSH_SHARE_PCT}%)"
    )
    plan.add(plant)
    return True
