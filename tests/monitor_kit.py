"""Helpers for tests of the warning rules: a tiny warehouse from feed rows, and one rule's findings.

A rule test loads a few rows (through the real loader, so the warehouse and its derived tables are what a
user's load makes), runs one rule and reads back which objects it warned about::

    load(engine, tmp_path, ba_bgt_info=[indicator("B1", "1000.00")], pay_voucher=[payment("P1", "60000.00",
         set_mode_code="2")])
    assert warned(engine, "USE-01") == {"P1"}
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from connectors.ingest.loader import load_batch
from monitor.config import RuleConfig
from monitor.rules import BY_CODE, RULES
from monitor.runner import RunReport, run_rules
from schema.monitor import Warning, WarningObject
from tests.factories import ZHENGZHOU, agency, write_table

_batches = itertools.count()
AS_OF = date(2025, 12, 31)


def base_rows() -> dict[str, list[dict[str, Any]]]:
    """A department and one of its units in 郑州市, for rows that need a paying unit."""
    return {"agency": [agency("001", "郑州市教育局"), agency("001001", "郑州市第一初级中学", dept="001")]}


def load(engine: Engine, tmp_path: Path, *, base: bool = True, **tables: list[dict[str, Any]]) -> None:
    """Load one batch holding ``tables`` (feed rows by table name), plus the base units unless told not."""
    folder = tmp_path / f"batch-{next(_batches)}"
    rows = base_rows() if base else {}
    for name, table_rows in tables.items():
        rows[name] = rows.get(name, []) + table_rows
    for name, table_rows in rows.items():
        write_table(folder, name, table_rows)
    report = load_batch(engine, folder, source="test")
    assert report is not None


def run(
    engine: Engine,
    code: str,
    *,
    as_of: date = AS_OF,
    params: dict[str, Any] | None = None,
    by_region: dict[str, dict[str, Any]] | None = None,
    incremental: bool = False,
) -> RunReport:
    """Run the one rule ``code`` (with parameter overrides, if any) at ``as_of``."""
    configs = {r.code: RuleConfig(r, enabled=r.code == code) for r in RULES}
    configs[code] = RuleConfig(BY_CODE[code], params=params or {}, by_region=by_region or {})
    return run_rules(engine, as_of=as_of, configs=configs, incremental=incremental)


def warned(engine: Engine, code: str, **kwargs: Any) -> set[str]:
    """Run rule ``code`` and return the ids of every object its open, uncleared warnings concern."""
    run(engine, code, **kwargs)
    return objects(engine, code)


def objects(engine: Engine, code: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(WarningObject.object_id)
            .join(Warning, Warning.id == WarningObject.warning_id)
            .where(Warning.rule_code == code, Warning.cleared_at.is_(None))
        )
        return {r for (r,) in rows}


def warnings(engine: Engine, code: str) -> list[dict[str, Any]]:
    """The open warnings of a rule, each as a dict of the ledger's columns."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*Warning.__table__.columns).where(Warning.rule_code == code, Warning.cleared_at.is_(None))
        )
        return [dict(r._mapping) for r in rows]


__all__ = ["AS_OF", "ZHENGZHOU", "load", "objects", "run", "warned", "warnings"]
