"""The whole catalogue over the small demo province, on both engines: every planted anomaly is found by its
rule, nothing else warns (the independent oracle of tests/test_generate.py agrees object for object), a
rerun changes nothing, and loading the province in two parts with incremental runs leaves the same ledger
as one full run."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, literal, select

from connectors.ingest.loader import load_batch
from monitor.rules import RULES
from monitor.runner import run_rules
from monitor.score import read_truth, score
from schema.monitor import Warning, WarningObject
from tests.test_generate import evaluate, read_batch

pytestmark = pytest.mark.slow
COMPARED = {"payment", "pay_detail", "indicator"}  # the oracle's ids; a unit only for unit-level rules


def warned_objects(engine: Engine, primary_only: bool = False) -> dict[str, set[str]]:
    """rule key → ids of the objects its open warnings concern (or only their primary objects), in the
    oracle's form."""
    keys = {r.code: r.key for r in RULES}
    unit_rules = {r.code for r in RULES if r.object_type == "agency"}
    out: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Warning.rule_code,
                Warning.mof_div_code,
                Warning.fiscal_year,
                WarningObject.object_type,
                WarningObject.object_id,
            )
            .join(WarningObject, WarningObject.warning_id == Warning.id)
            .where(Warning.cleared_at.is_(None))
            .where(WarningObject.is_primary.is_(True) if primary_only else literal(True))
        )
        for code, region, year, otype, oid in rows:
            if otype == "agency" and code in unit_rules:
                out[keys[code]].add(f"{region}:{oid}:{year}")
            elif otype in COMPARED:
                out[keys[code]].add(oid)
    return out


def agrees_with_oracle(engine: Engine, oracle: dict[str, set[str]]) -> None:
    """The oracle names what a rule fires on: every primary object of a warning is among them, and every one
    of them is an object of a warning (an indicator finding's continuations or plan lines are related
    objects the oracle does not name; a group's payments it names all)."""
    every, primary = warned_objects(engine), warned_objects(engine, primary_only=True)
    for rule in RULES:
        expected = oracle.get(rule.key, set())
        assert primary.get(rule.key, set()) <= expected, (rule.code, primary.get(rule.key, set()) - expected)
        assert expected <= every.get(rule.key, set()), (rule.code, expected - every.get(rule.key, set()))


def ledger(engine: Engine) -> dict[str, tuple[str, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Warning.dedup_key, WarningObject.object_id)
            .join(WarningObject, WarningObject.warning_id == Warning.id)
            .where(Warning.cleared_at.is_(None))
        )
        out: dict[str, list[str]] = defaultdict(list)
        for key, oid in rows:
            out[key].append(oid)
    return {k: tuple(sorted(v)) for k, v in out.items()}


@pytest.fixture
def demo_ledger(engine: Engine, demo_batch: Path) -> Engine:
    """The small demo province loaded into a fresh warehouse (each engine in turn), rules run by the load."""
    report = load_batch(engine, demo_batch, source="demo", monitor=True)
    assert any(line.startswith("monitoring: full") for line in report.post_load), report.post_load
    return engine


def test_every_planted_anomaly_is_found_by_its_rule_and_nothing_else_warns(
    demo_ledger: Engine, demo_batch: Path
) -> None:
    oracle = evaluate(read_batch(demo_batch))
    agrees_with_oracle(demo_ledger, oracle)
    result = score(demo_ledger, read_truth(demo_batch / "anomalies.jsonl"))
    assert result.planted > 90 and result.complete, [(s.code, s.missed) for s in result.rules if s.missed]
    assert [(s.code, s.unplanted) for s in result.rules if s.unplanted] == []
    before = ledger(demo_ledger)
    rerun = run_rules(demo_ledger)
    assert (rerun.raised, rerun.cleared) == (0, 0)
    assert ledger(demo_ledger) == before


def _split(batch: Path, out: Path) -> tuple[Path, Path]:
    """The batch as two: B holds the last 800 payments (with their detail lines) and the last payment of
    every planted group (split, duplicate, monthly cash), so that B completes groups that began in A."""
    first, second = out / "a", out / "b"
    shutil.copytree(batch, first)
    second.mkdir()
    truth = [orjson.loads(line) for line in (batch / "anomalies.jsonl").read_bytes().splitlines()]
    with (batch / "pay_voucher.csv").open(encoding="utf-8", newline="") as fh:
        vouchers = list(csv.DictReader(fh))
    later = {v["pay_cert_id"] for v in vouchers[-800:]}
    later |= {
        a["object_ids"][-1]
        for a in truth
        if a["rule"] in ("split_payment", "duplicate_payment", "large_cash") and len(a["object_ids"]) > 1
    }
    for table in ("pay_voucher", "pay_detail"):
        with (batch / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = reader.fieldnames
        assert header is not None
        for folder, keep in (
            (first, lambda r: r["pay_cert_id"] not in later),
            (second, lambda r: r["pay_cert_id"] in later),
        ):
            with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, header)
                writer.writeheader()
                writer.writerows(r for r in rows if keep(r))  # type: ignore[no-untyped-call]
    manifest = orjson.loads((batch / "manifest.json").read_bytes())
    for folder in (first, second):
        tables = {}
        for name, entry in manifest["tables"].items():
            path = folder / f"{name}.csv"
            if path.exists():
                with path.open("rb") as fh:
                    rows = sum(1 for line in fh if line.strip()) - 1
                tables[name] = {
                    **entry,
                    "rows": rows,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                }
        (folder / "manifest.json").write_bytes(orjson.dumps({**manifest, "tables": tables}))
    (first / "anomalies.jsonl").unlink()
    return first, second


def test_two_loads_with_incremental_runs_leave_the_ledger_a_full_run_makes(
    engine: Engine, tmp_path: Path, demo_batch: Path
) -> None:
    first, second = _split(demo_batch, tmp_path / "parts")
    load_batch(engine, first, source="demo", monitor=True)
    report = load_batch(engine, second, source="demo", monitor=True)
    assert any(line.startswith("monitoring: incremental") for line in report.post_load), report.post_load
    incremental = ledger(engine)
    full = run_rules(engine)
    assert (full.raised, full.cleared) == (0, 0)
    assert ledger(engine) == incremental
    agrees_with_oracle(engine, evaluate(read_batch(demo_batch)))
