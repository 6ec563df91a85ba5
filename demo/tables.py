"""The tables written after the payments: regions, units, accounts, projects, funds, indicators, execution."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path

from demo.amounts import Adjustment
from demo.budget import Budget, Indicator
from demo.classify import Codes
from demo.execution import gov_exec_rows
from demo.orgs import Orgs, division_rows
from demo.plants import RiskRow
from demo.rand import rng_for, yuan
from demo.regions import Province
from demo.writers import TableWriter

Row = tuple[str | None, ...]
_STAMP = "2024-12-20T09:00:00+08:00"


def write_static_tables(
    out: Path,
    fmt: str,
    encoding: str,
    progress: Callable[[str, int, int | None], None] | None,
    *,
    seed: int,
    province: Province,
    orgs: Orgs,
    budget: Budget,
    adjustments: list[Adjustment],
    risk_rows: list[RiskRow],
    codes: Codes,
    paid: dict[tuple[str, int, str, str, int], int],
) -> dict[str, int]:
    tables: dict[str, Iterable[Row]] = {
        "mof_div": _regions(province),
        "mof_dep": ((dep, name, region, "0", _STAMP) for region, dep, name in division_rows(province)),
        "agency": (
            (a.code, a.name, a.region.code, a.dept_code, a.uscc, a.agency_type, "0", _STAMP)
            for a in orgs.agencies
        ),
        "account": (
            (
                a.account_no,
                a.account_name,
                a.bank_name,
                a.mof_div_code,
                a.agency_code,
                a.account_type,
                a.opened_on.isoformat(),
                a.closed_on.isoformat() if a.closed_on else None,
                a.approval_doc_no,
                "0",
                f"{a.opened_on.isoformat()}T10:00:00+08:00",
            )
            for a in orgs.accounts
        ),
        "project": (
            (
                p.pro_code,
                p.name,
                p.region_code,
                p.agency_code,
                p.kind,
                p.spe_fund,
                str(p.start_year),
                "0",
                f"{p.start_year}-01-06T09:00:00+08:00",
            )
            for p in budget.projects
        ),
        "spe_fund": (
            (c, n, d, m, f, doc, str(s), str(e), "0", f"{s}-12-30T09:00:00+08:00")
            for c, n, d, m, f, doc, s, e in budget.spe_funds
        ),
        "spe_fund_alloc": _allocations(budget),
        "ba_bgt_info": _indicators(rng_for(seed, "indicator-rows"), budget),
        "bgt_adj": (
            (
                adj_id,
                bgt_id,
                day.isoformat(),
                yuan(add),
                doc,
                reason,
                "0",
                f"{day.isoformat()}T11:00:00+08:00",
            )
            for adj_id, bgt_id, day, add, doc, reason in adjustments
        ),
        "gov_exec": gov_exec_rows(rng_for(seed, "gov-exec"), province, budget, codes, paid),
        "ext_risk": ((*row, "0", f"{row[5]}T08:00:00+08:00") for row in risk_rows),
    }
    counts = {}
    for table, rows in tables.items():
        writer = TableWriter(out, table, fmt, encoding, progress)
        writer.write_all(rows)
        writer.close()
        counts[table] = writer.rows
    return counts


def _regions(province: Province) -> Iterator[Row]:
    for r in province.all:
        yield (r.code, r.name, r.parent.code if r.parent else None, str(r.level))


def _allocations(budget: Budget) -> Iterator[Row]:
    """Allocation plan lines of the special funds: province → cities, cities → counties."""
    n = 0
    for ind in budget.indicators:
        if ind.rec_div is None or ind.spe_fund is None or ind.region.level > 2:
            continue
        n += 1
        yield (
            f"FP{n:08d}",
            ind.spe_fund,
            str(ind.year),
            ind.region.code,
            ind.rec_div.code,
            None,
            None,
            yuan(ind.current),
            ind.doc_no,
            ind.doc_date.isoformat(),
            "0",
            f"{ind.doc_date.isoformat()}T09:30:00+08:00",
        )


def _indicator_row(ind: Indicator, bgt_id: str, deleted: bool, stamp: str) -> Row:
    sup_id = ind.sup.bgt_id if ind.sup is not None else ind.sup_bgt_id_text
    return (
        bgt_id,
        ind.region.code,
        str(ind.year),
        ind.doc_no,
        ind.title,
        ind.doc_date.isoformat(),
        ind.sup_doc_no,
        sup_id,
        ind.ori.bgt_id if ind.ori is not None else None,
        ind.rec_date.isoformat() if ind.rec_date else None,
        ind.source,
        ind.agency.code if ind.agency is not None else None,
        ind.rec_div.code if ind.rec_div is not None else None,
        ind.pro_code,
        ind.spe_fund,
        ind.fund_type,
        None,
        ind.mof_dep,
        ind.exp_func,
        ind.gov_eco,
        ind.dep_eco,
        yuan(ind.amount),
        "1" if deleted else "0",
        stamp,
    )


def _indicators(rng: random.Random, budget: Budget) -> Iterator[Row]:
    deleted_every = max(97, len(budget.indicators) // 8)
    for i, ind in enumerate(budget.indicators):
        stamp = f"{ind.doc_date.isoformat()}T{9 + rng.randrange(8):02d}:{rng.randrange(60):02d}:00+08:00"
        yield _indicator_row(ind, ind.bgt_id, False, stamp)
        if ind.agency is not None and i % deleted_every == deleted_every // 2:
            # an indicator keyed twice and the copy voided (作废): is_deleted = 1, never counted
            voided = date(ind.doc_date.year, ind.doc_date.month, min(ind.doc_date.day + 1, 28))
            yield _indicator_row(ind, f"ZB{ind.year}98{i:06d}", True, f"{voided.isoformat()}T17:00:00+08:00")
