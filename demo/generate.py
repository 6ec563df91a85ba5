"""``generate()``: a realistic, deterministic demo province (Henan) in the canonical feed format.

Order of work: regions and units → indicator structure (base budgets, transfer chains, planted structure)
→ payment counts → payments unit by unit (written as they are made, with details and plans) → indicator
amounts from what was paid → every other table → anomalies.jsonl and manifest.json.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from demo.amounts import finalize, future_plans
from demo.anomalies import plan_payments, plan_structure_and_units
from demo.base import base_budgets, carry_overs
from demo.batchplants import rush
from demo.budget import Budget, Builder
from demo.classify import Codes
from demo.names import build_name_pool
from demo.orgs import build_orgs
from demo.payees import Payees
from demo.payments import PaymentGenerator, Sinks
from demo.plants import Planter
from demo.rand import rng_for
from demo.regions import build_province
from demo.risk import decoys
from demo.scales import SCALES, XLSX_MAX_ROWS, ScaleSpec
from demo.schedules import is_scheduled, schedule
from demo.tables import write_static_tables
from demo.transfers import Transfers
from demo.workdays import YEARS
from demo.writers import ENCODINGS, FIELDS, FORMATS, TableWriter, sha256_of, write_json

Progress = Callable[[str, int, int | None], None]


def generate(
    out: Path,
    *,
    scale: str = "small",
    seed: int = 1,
    fmt: str = "csv",
    encoding: str = "utf-8",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write one file per feed table, ``manifest.json`` and ``anomalies.jsonl`` into ``out``.

    Returns the rows written per table. The same seed, scale and format give byte-identical files.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    spec = SCALES[scale]
    if fmt == "xlsx" and spec.payments > XLSX_MAX_ROWS // 2:
        raise ValueError(
            f"scale {scale!r} writes tables of more than {XLSX_MAX_ROWS:,} rows, more than an xlsx "
            "sheet holds; use csv or jsonl, or the small scale"
        )
    if fmt != "csv" and encoding != "utf-8":
        raise ValueError("gb18030 applies to csv only; jsonl and xlsx are always UTF-8")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    codes = Codes(YEARS)
    province = build_province(rng_for(seed, "regions"), spec.townships_per_county)
    orgs = build_orgs(rng_for(seed, "orgs"), province, spec)
    builder = Builder(rng_for(seed, "budget"), province, orgs, spec, codes)
    transfers = Transfers(builder)
    transfers.choose_plants()
    for year in YEARS:
        base_budgets(builder, year)
        transfers.build(year)
    carry_overs(builder)
    budget = builder.budget
    plan = plan_structure_and_units(rng_for(seed, "plants"), builder, transfers, spec)
    allocate_payments(budget, spec)
    plan_payments(rng_for(seed, "plant-hosts"), builder, plan, spec)

    names = build_name_pool(seed)
    payees = Payees(seed, province, names, spec.enterprises)
    writers = {
        t: TableWriter(out, t, fmt, encoding, progress, spec.payments if t == "pay_voucher" else None)
        for t in ("pay_voucher", "pay_detail", "pay_plan")
    }
    sinks = Sinks(writers["pay_voucher"], writers["pay_detail"], writers["pay_plan"])
    gen = PaymentGenerator(
        seed, budget, orgs, payees, codes, sinks, spec.persons_annual, spec.persons_monthly
    )
    planter = Planter(plan, province.by_code())
    gen.plant_hook = planter
    rush_wanted, rush_done = spec.plants, 0
    for agency in orgs.agencies:
        leaves = budget.leaves_by_agency.get(agency.index, [])
        rng = rng_for(seed, "unit", agency.index)
        pays = gen.unit(agency, leaves)
        rushed = rush(plan, gen, agency, rng, pays, rush_wanted, rush_done)
        rush_done += rushed
        gen.settle(rng, pays, rushed)
        gen.emit(agency, pays, rng)
        gen.write_plans(agency, leaves, rng, plan.short_month)

    adjustments = finalize(rng_for(seed, "amounts"), budget, plan, builder.next_doc)
    for leaf, month, amount in future_plans(budget):
        gen.write_plan(leaf, month, amount)
    for writer in writers.values():
        writer.close()

    risk_rows = planter.risk_rows + decoys(rng_for(seed, "risk"), payees, province, max(6, spec.plants * 2))
    counts = {t: w.rows for t, w in writers.items()}
    counts.update(
        write_static_tables(
            out,
            fmt,
            encoding,
            progress,
            seed=seed,
            province=province,
            orgs=orgs,
            budget=budget,
            adjustments=adjustments,
            risk_rows=risk_rows,
            codes=codes,
            paid=gen.exec_paid,
        )
    )
    with (out / "anomalies.jsonl").open("wb") as fh:
        for record in plan.records():
            fh.write(orjson.dumps(record) + b"\n")
    write_json(
        out / "manifest.json",
        {
            "source": "demo",
            "extracted_at": f"2026-11-01T02:{seed % 60:02d}:00+08:00",
            "encoding": encoding,
            "format_version": 1,
            "seed": seed,
            "scale": scale,
            "tables": {t: {"rows": counts[t], "sha256": sha256_of(out / f"{t}.{fmt}")} for t in FIELDS},
        },
    )
    return {t: counts[t] for t in FIELDS}


def allocate_payments(budget: Budget, spec: ScaleSpec) -> None:
    """Give every unpaid-by-schedule indicator its number of payments, about ``spec.payments`` in all."""
    level_weight = {1: 3, 2: 2, 3: 1, 4: 1}
    scheduled = 0
    free = []
    preset = 0
    for leaf in budget.indicators:
        if leaf.agency is None:
            continue
        if is_scheduled(leaf.profile):
            scheduled += len(schedule(leaf))
        elif leaf.plant == "idle_funds":
            leaf.n_pay = 0
        elif leaf.n_pay:
            preset += leaf.n_pay
        else:
            free.append(leaf)
    planted = spec.plants * 40
    total = max(len(free), spec.payments - scheduled - preset - planted)
    weights = [max(1, leaf.weight) * level_weight[leaf.region.level] for leaf in free]
    wsum = sum(weights)
    remainders = []
    given = 0
    for i, (leaf, w) in enumerate(zip(free, weights, strict=True)):
        n, rest = divmod(total * w, wsum)
        leaf.n_pay = max(1, n)
        given += leaf.n_pay
        remainders.append((-rest, i))
    for _, i in sorted(remainders)[: max(0, total - given)]:
        free[i].n_pay += 1


__all__ = ["SCALES", "ScaleSpec", "generate"]
