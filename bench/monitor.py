"""The warning rules over a loaded province: a full run on an empty ledger, a full rerun, and the
incremental run after loading 10,000 new payments.

Targets (issue 6, `province` scale, SQLite): a full run ≤ 60 s; the incremental run after loading 10,000
new payments ≤ 2 s. PostgreSQL is measured too (``--engines sqlite,postgresql``), for information.

The warehouse is ``bench/out/monitor-<scale>.db`` (and ``oversight_bench_monitor_<scale>``), loaded from the
generated batch without monitoring the first time and kept. The 10,000 new payments are real payments of
the running year: a first batch withdraws them (deleted), the incremental run that follows brings the ledger
up to date, then a second batch brings them back and the incremental run after it is the one timed.
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from bench.common import OUT, write_section
from bench.load import PG_URL, ensure_batch, fresh_pg, load_into
from connectors.ingest.loader import load_batch
from monitor.runner import RunReport, run_rules
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import LoadRun
from schema.monitor import MonitorRun, Warning, WarningObject, WarningStep

NEW_PAYMENTS = 10_000
TARGET_FULL_S = 60
TARGET_INCREMENTAL_S = 2


def _loaded(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM scope_rollup")).scalar_one() > 0
    except Exception:  # noqa: BLE001 - a missing database or table means "load it"
        return False
    finally:
        engine.dispose()


def ensure_warehouses(
    scale: str, seed: int, engines: list[str], prefix: str = "monitor"
) -> tuple[Path, dict[str, str]]:
    """The warehouses ``bench/out/<prefix>-<scale>.db`` and ``oversight_bench_<prefix>_<scale>``, loaded
    from the generated batch the first time."""
    batch, _ = ensure_batch(scale, seed)
    urls: dict[str, str] = {}
    if "sqlite" in engines:
        urls["SQLite"] = f"sqlite:///{OUT / f'{prefix}-{scale}.db'}"
    if "postgresql" in engines:
        name = f"oversight_bench_{prefix}_{scale}"
        urls["PostgreSQL"] = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    for label, url in urls.items():
        if not _loaded(url):
            load_into(fresh_pg(url.rsplit("/", 1)[1]) if label == "PostgreSQL" else url, batch)
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    return batch, urls


def empty_ledger(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (WarningStep, WarningObject, Warning, MonitorRun):
            conn.execute(delete(table))


def payment_batches(
    batch: Path, engine: Engine, out: Path, count: int, rnd: random.Random
) -> tuple[Path, Path]:
    """Two batches over the same ``count`` payments of the running year (vouchers without detail lines):
    the first withdraws them (``is_deleted = 1``), the second brings them back as they were, with a later
    ``update_time`` each time the benchmark runs, so that they are payments the warehouse did not hold."""
    with engine.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(LoadRun)).scalar_one()
    with (batch / "pay_detail.csv").open(encoding="utf-8", newline="") as fh:
        batched = {r["pay_cert_id"] for r in csv.DictReader(fh)}
    with (batch / "pay_voucher.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        assert header is not None
        pool = [
            r
            for r in reader
            if r["fiscal_year"] == "2026" and r["is_deleted"] == "0" and r["pay_cert_id"] not in batched
        ]
    chosen = rnd.sample(pool, min(count, len(pool)))  # a small province has fewer
    manifest = orjson.loads((batch / "manifest.json").read_bytes())
    folders = []
    for step, deleted in (("withdraw", "1"), ("arrive", "0")):
        folder = out / f"{runs}-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "pay_voucher.csv"
        stamp = f"2027-01-01T00:{runs // 60 % 60:02d}:{runs % 60:02d}+08:00" if deleted == "0" else None
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, header)
            writer.writeheader()
            for row in chosen:
                when = stamp or f"2026-12-31T23:{runs // 60 % 60:02d}:{runs % 60:02d}+08:00"
                writer.writerow({**row, "is_deleted": deleted, "update_time": when})
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        tables = {"pay_voucher": {"rows": len(chosen), "sha256": digest}}
        (folder / "manifest.json").write_bytes(orjson.dumps({**manifest, "tables": tables}))
        folders.append(folder)
    return folders[0], folders[1]


def slowest(report: RunReport, n: int = 5) -> str:
    ranked = sorted(report.outcomes, key=lambda o: o.seconds, reverse=True)[:n]
    return ", ".join(f"{o.code} {o.seconds:.1f} s" for o in ranked)


def measure(url: str, batch: Path, rnd: random.Random) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        empty_ledger(engine)
        full = run_rules(engine)
        rerun = run_rules(engine)
        withdraw, arrive = payment_batches(batch, engine, OUT / "monitor-batches", NEW_PAYMENTS, rnd)
        load_batch(engine, withdraw, source="bench", monitor=False)
        run_rules(engine, incremental=True)
        started = time.perf_counter()
        load = load_batch(engine, arrive, source="bench", monitor=False)
        load_s = time.perf_counter() - started
        incremental = run_rules(engine, incremental=True)
    finally:
        engine.dispose()
    assert all(t.counts.quarantined == 0 and t.counts.updated for t in load.tables), "payments did not load"
    return {"full": full, "rerun": rerun, "incremental": incremental, "load_s": load_s}


def main(scale: str, seed: int, engines: str = "sqlite,postgresql") -> None:
    batch, urls = ensure_warehouses(scale, seed, engines.split(","))
    rnd = random.Random(seed)
    lines = [
        f"## Monitoring (`python -m bench.run monitor --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}; every rule of the catalogue, set-based SQL, one process. Targets: a "
        f"full run ≤ {TARGET_FULL_S} s on SQLite; the incremental run after loading {NEW_PAYMENTS:,} new "
        f"payments ≤ {TARGET_INCREMENTAL_S} s.",
        "",
        "| engine | rules | full run (empty ledger) | findings | full rerun | incremental after "
        f"{NEW_PAYMENTS:,} payments | its findings | slowest rules (full run) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, url in urls.items():
        m = measure(url, batch, rnd)
        full, rerun, inc = m["full"], m["rerun"], m["incremental"]
        lines.append(
            f"| {label} | {len(full.outcomes)} | {full.seconds:.1f} s | {full.findings:,} "
            f"| {rerun.seconds:.1f} s | {inc.seconds:.2f} s | {inc.findings:,} | {slowest(full)} |"
        )
        print(lines[-1], flush=True)
    write_section(f"monitor-{scale}", "\n".join(lines))


if __name__ == "__main__":
    main("province", 1)
