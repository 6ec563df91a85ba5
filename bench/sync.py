"""An incremental sync of 100,000 changed payment rows from a PostgreSQL 预算管理一体化 source, end to end.

Target (issue 7): ≤ 30 s, end to end: reading the changed rows from the source, landing them through the
loader's write path, bringing the summaries up to date and the incremental run of the warning rules.

The source is a PostgreSQL database holding the demo province as a 一体化 system's tables
(``demo/source_system.py``, database ``oversight_bench_yth_<scale>``), written once and kept. The
warehouses (``bench/out/sync-<scale>.db`` and ``oversight_bench_sync_<scale>``) are filled the first time by a
full sync from it, whose rate is reported too. Each measured round then changes 100,000 payments in the
source (``PAY_AMT`` and ``USE_DES`` of payments drawn at random, stamped now, as the treasury system would on
a correction) and times one ``sync_source`` of the source, monitoring included.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from bench.common import OUT, write_section
from bench.load import PG_URL, ensure_batch, fresh_pg, load_into
from connectors.ingest.convert import SHANGHAI
from connectors.sync.config import parse_config
from connectors.sync.core import Source
from connectors.sync.runner import SyncReport, sync_source
from demo.source_system import create_schema, from_batch
from monitor.runner import run_rules
from schema.db import make_engine
from schema.migrate import upgrade
from schema.sync import SyncState

CHANGED = 100_000
TARGET_S = 30


def _count(url: str, query: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(query)).scalar_one())
    except Exception:  # noqa: BLE001 - a missing database or table: not there yet
        return 0
    finally:
        engine.dispose()


def ensure_source(scale: str, seed: int) -> tuple[str, float | None]:
    """The PostgreSQL 一体化 source of the scale, written from the generated batch the first time."""
    name = f"oversight_bench_yth_{scale}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    if _count(url, 'SELECT count(*) FROM "PAY_DETAIL"') > 0:
        return url, None
    batch, _ = ensure_batch(scale, seed)
    fresh_pg(name)
    engine = create_engine(url)
    started = time.perf_counter()
    create_schema(engine)
    counts = from_batch(engine, batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    seconds = time.perf_counter() - started
    print(f"wrote the 一体化 source {name}: {sum(counts.values()):,} rows in {seconds:.0f} s", flush=True)
    return url, seconds


def source_of(url: str) -> Source:
    # a look-back of one minute: the rows a round changed are read once, not again by the next round
    config = {"type": "sql", "url": url, "preset": "yth", "lookback": "1m", "timeout": "10m"}
    return parse_config({"sources": {"yth": config}})["yth"]


def ensure_warehouse(label: str, url: str, source_url: str, batch: Any) -> SyncReport | None:
    """A warehouse in step with the source (kept for the next rounds). Up to ``medium`` scale it is filled
    by a full sync, whose report is returned; a province is loaded from the batch the source was written
    from (`oversight load`, minutes instead of an hour of a full sync through the Python path) and its
    bookmarks set to the source's newest stamps, as a full sync would leave them (the tests show that a sync
    and a load of the same records store the same rows)."""
    if _count(url, "SELECT count(*) FROM sync_state WHERE status = 'ok'") > 0:
        return None
    if label == "PostgreSQL":
        fresh_pg(url.rsplit("/", 1)[1])
    else:
        for p in OUT.glob(f"{url.rsplit('/', 1)[1]}*"):
            p.unlink()
    engine = make_engine(url)
    upgrade(engine)
    source = source_of(source_url)
    if batch is None:
        report = sync_source(engine, source, monitor=True)
        engine.dispose()
        if not report.ok:
            raise SystemExit(report.error)
        return report
    engine.dispose()
    load_into(url, batch)
    engine = make_engine(url)
    source.open()
    try:
        with engine.begin() as conn:
            for stream in source.streams:
                newest = stream.dump(stream.cursor_value(source.newest(stream)))  # type: ignore[attr-defined]
                conn.execute(
                    insert(SyncState).values(
                        source="yth",
                        stream=stream.name,
                        table_name=stream.table,
                        cursor=newest,
                        source_cursor=newest,
                        status="ok",
                        rows_last=0,
                        rows_total=0,
                    )
                )
        run_rules(engine, incremental=False)  # as a load with monitoring would: the rounds run incrementally
    finally:
        source.close()
        engine.dispose()
    return None


def change_payments(source_url: str, n: int, rnd: random.Random) -> datetime:
    """Change ``n`` payments of the source, as a correction would: amount, purpose, a new stamp."""
    engine: Engine = create_engine(source_url)
    now = datetime.now(SHANGHAI).replace(tzinfo=None)
    salt = f"{rnd.random()}"
    with engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE "PAY_VOUCHER_BILL" SET "PAY_AMT" = "PAY_AMT" + 0.01, '
                '"USE_DES" = "USE_DES" || \'（更正）\', "UPDATE_TIME" = :now '
                'WHERE "PAY_CERT_ID" IN (SELECT "PAY_CERT_ID" FROM "PAY_VOUCHER_BILL" '
                'ORDER BY md5("PAY_CERT_ID" || :salt) LIMIT :n)'
            ),
            {"now": now, "salt": salt, "n": n},
        )
    engine.dispose()
    return now


def _step_seconds(report: SyncReport, prefix: str) -> str:
    for line in report.post_load:
        if line.startswith(prefix) and "(" in line and line.rstrip().endswith("s)"):
            return line.rsplit("(", 1)[1].rstrip(")")
    return "—"


def measure(label: str, url: str, source_url: str, rnd: random.Random, batch: Any) -> dict[str, Any]:
    full = ensure_warehouse(label, url, source_url, batch)
    change_payments(source_url, CHANGED, rnd)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        report = sync_source(engine, source_of(source_url), monitor=True)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    if not report.ok:
        raise SystemExit(report.error)
    stream = next(s for s in report.streams if s.table == "pay_voucher")
    return {"full": full, "report": report, "seconds": seconds, "stream": stream}


def main(scale: str, seed: int, engines: str = "sqlite,postgresql") -> None:
    source_url, written = ensure_source(scale, seed)
    urls: dict[str, str] = {}
    if "sqlite" in engines:
        urls["SQLite"] = f"sqlite:///{OUT / f'sync-{scale}.db'}"
    if "postgresql" in engines:
        urls["PostgreSQL"] = (
            make_url(PG_URL)
            .set(database=f"oversight_bench_sync_{scale}")
            .render_as_string(hide_password=False)
        )
    rnd = random.Random(seed)
    steps: list[str] = []
    batch = ensure_batch(scale, seed)[0] if scale == "province" else None
    lines = [
        f"## Sync (`python -m bench.run sync --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}. Source: the demo province as a 预算管理一体化 system's tables in "
        f"PostgreSQL (`yth` preset). Target: an incremental sync of {CHANGED:,} changed payment rows ≤ "
        f"{TARGET_S} s end to end (read, land, summaries, warning rules).",
        "",
        f"| warehouse | incremental sync of {CHANGED:,} changed payments | payments read | of which "
        "updated | landing the payments | rest of the sync (summaries, rules) | full sync that filled "
        "the warehouse |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, url in urls.items():
        m = measure(label, url, source_url, rnd, batch)
        stream, report, full = m["stream"], m["report"], m["full"]
        landed = sum(s.seconds for s in report.streams)
        full_text = "kept from an earlier run" if batch is None else "loaded from the batch, bookmarks set"
        if full is not None:
            rows = sum(s.counts.read for s in full.streams)
            full_text = f"{rows:,} rows in {full.seconds:.0f} s ({rows / full.seconds:,.0f} rows/s)"
        lines.append(
            f"| {label} | {m['seconds']:.1f} s | {stream.counts.read:,} | {stream.counts.updated:,} "
            f"| {stream.seconds:.1f} s | {m['seconds'] - landed:.1f} s | {full_text} |"
        )
        print(lines[-1], flush=True)
        steps.append(f"- {label}: " + "; ".join(report.post_load))
        for line in report.post_load:
            print(f"   {line}", flush=True)
    lines += ["", "After the payments landed:", "", *steps]
    if written is not None:
        lines.append("")
        lines.append(
            f"Writing the source database from the batch took {written:.0f} s (not part of any figure)."
        )
    write_section(f"sync-{scale}", "\n".join(lines))


if __name__ == "__main__":
    main("medium", 1)
