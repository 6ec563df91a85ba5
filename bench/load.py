"""Loading a generated province: payment rows per second on SQLite and PostgreSQL, peak memory, and the
ratio to the raw ``sqlite3 .import`` of the same CSV (the floor no loader can beat)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import OUT, cli, timed_run, write_section

PG_URL = os.environ.get("OVERSIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def ensure_batch(scale: str, seed: int) -> tuple[Path, float | None]:
    batch = OUT / f"{scale}-seed{seed}"
    if (batch / "manifest.json").exists():
        return batch, None
    run = timed_run(cli("generate", "--out", str(batch), "--scale", scale, "--seed", str(seed)))
    if run.returncode:
        raise SystemExit(run.output)
    return batch, run.seconds


def fresh_pg(name: str) -> str:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _report(url: str) -> dict[str, tuple[int, int]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, rows_read, elapsed_ms FROM load_table_report "
                "WHERE run_id = (SELECT max(id) FROM load_run)"
            )
        ).all()
    engine.dispose()
    return {r[0]: (r[1], r[2]) for r in rows}


def load_into(url: str, batch: Path) -> dict[str, Any]:
    # the loader alone: the warning rules are measured by bench/monitor.py
    env = {"OVERSIGHT_DATABASE_URL": url, "COLUMNS": "120"}
    run = timed_run(cli("load", "--no-monitor", str(batch)), env=env)
    if run.returncode:
        raise SystemExit(run.output)
    tables = _report(url)
    rows, ms = tables["pay_voucher"]
    all_rows = sum(r for r, _ in tables.values())
    return {
        "seconds": run.seconds,
        "peak_mb": run.peak_rss_mb,
        "payments": rows,
        "payment_rate": rows / (ms / 1000),
        "all_rows": all_rows,
        "all_rate": all_rows / run.seconds,
    }


def sqlite_import_rate(csv_path: Path) -> float | None:
    """rows/s of the sqlite3 shell's .import of the CSV into an untyped, unindexed table."""
    if not shutil.which("sqlite3"):
        return None
    target = OUT / "import-floor.db"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(target), ".mode csv", f".import {csv_path} pay_voucher"], check=True)
    seconds = time.perf_counter() - started
    with sqlite3.connect(target) as conn:
        rows = conn.execute("SELECT count(*) FROM pay_voucher").fetchone()[0]
    target.unlink(missing_ok=True)
    return rows / seconds


def main(scale: str, seed: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    batch, gen_seconds = ensure_batch(scale, seed)
    results = {}
    db = OUT / f"load-{scale}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    results["SQLite"] = load_into(f"sqlite:///{db}", batch)
    results["PostgreSQL"] = load_into(fresh_pg("oversight_bench_load"), batch)
    floor = sqlite_import_rate(batch / "pay_voucher.csv")
    lines = [
        f"## Load (`python -m bench.run load --scale {scale}`)",
        "",
        f"Batch: `{scale}` scale, seed {seed}"
        + (f", generated in {gen_seconds:.0f} s" if gen_seconds else "")
        + ". Target: ≥ 50,000 payment rows/s on each engine; peak memory ≤ 400 MB.",
        "",
        "| engine | payments | payment rows/s | all rows | all rows/s (whole load) | wall time "
        "| peak RSS (process tree) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['payments']:,} | {r['payment_rate']:,.0f} | {r['all_rows']:,} | "
            f"{r['all_rate']:,.0f} | {r['seconds']:.0f} s | {r['peak_mb']:.0f} MB |"
        )
    if floor:
        ours = results["SQLite"]["payment_rate"]
        lines += [
            "",
            f"`sqlite3` shell `.import` of the same `pay_voucher.csv` (no types, no checks, no "
            f"indexes): {floor:,.0f} rows/s; the loader on SQLite reaches {ours / floor:.0%} of it.",
        ]
    write_section(f"load-{scale}", "\n".join(lines))
    print("\n".join(lines))
