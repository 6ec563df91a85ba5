"""Exports through the real HTTP API: CSV rows per second of a large payments export, and whether the
server's memory stays flat while it streams; XLSX rows per second for information.

Target (issue 9): ≥ 50,000 rows/s for CSV, with the server's peak resident memory during an export no
larger for ≥ 1,000,000 rows than for ~100,000 (constant memory: the rows are streamed from one
server-side cursor into a zip written as it is produced, nothing is gathered whole).

The warehouse is ``bench/out/exports-<scale>.db`` (and, with ``engines`` naming it, the PostgreSQL database
``oversight_bench_exports_<scale>``), loaded from the generated batch the first time and kept. The large
export is every payment at `small` and `medium` scale; at `province` scale, the fiscal year with the
fewest payments that still holds ≥ 1,000,000 (every payment if none does). The small one is the same year
up to the day that gives ~100,000 rows (a tenth of the large one when that is less). The server is one
uvicorn process (``api.app:served_app``, as ``oversight serve`` runs it), rate limits off, the audit log
written as always; its RSS is sampled every 20 ms from before the request until the last byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from api.exports import verify_export
from bench import monitor
from bench.common import ROOT, _tree_rss_kb, auth_env, auth_header, write_section
from bench.queries import _free_port
from schema.db import make_engine
from schema.models import PayVoucher

LARGE = 1_000_000
SMALL = 100_000
TARGET_ROWS_S = 50_000
FLAT_MB = 25  # the large export's peak may exceed the small one's by this much and count as constant


def ensure_warehouses(scale: str, seed: int, engines: list[str]) -> dict[str, str]:
    return monitor.ensure_warehouses(scale, seed, engines, prefix="exports")[1]


def questions(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The query parameters of the large export and of the ~100,000-row one."""
    engine = make_engine(url)
    p = PayVoucher
    live = p.is_deleted.is_(False)
    try:
        with engine.connect() as conn:
            years = dict(
                conn.execute(select(p.fiscal_year, func.count()).where(live).group_by(p.fiscal_year)).all()
            )
            total = sum(years.values())
            big = [y for y, n in sorted(years.items(), key=lambda t: t[1]) if n >= LARGE]
            large: dict[str, Any] = {"year": big[0]} if total > LARGE and big else {}
            year = big[0] if large else max(years, key=lambda y: years[y])
            wanted = min(SMALL, (years[big[0]] if large else total) // 10)
            day = conn.execute(
                select(p.vou_date)
                .where(live, p.fiscal_year == year)
                .order_by(p.vou_date)
                .offset(wanted)
                .limit(1)
            ).scalar()
    finally:
        engine.dispose()
    small = {"year": year, **({"date_to": str(day)} if day else {})}
    return large, small


@contextmanager
def serve(url: str) -> Iterator[tuple[str, int]]:
    """One uvicorn process serving the app on ``url``: its base URL and pid."""
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:served_app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": url, **auth_env()}
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"server on {url} did not start")
        yield base, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Measured:
    rows: int
    seconds: float
    megabytes: float
    rss_before_mb: float
    rss_peak_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


def measure(base: str, pid: int, params: dict[str, Any], fmt: str) -> Measured:
    """One export streamed to a file, timed from the request to the last byte, with the server's RSS
    before it and its peak during it; the zip is then verified against its manifest."""
    before = _tree_rss_kb(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = 0
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        try:
            with (
                httpx.Client(base_url=base, headers=auth_header(), timeout=None) as client,
                client.stream("GET", "/v1/payments", params={**params, "format": fmt}) as r,
            ):
                if r.status_code != 200:
                    raise SystemExit(f"export answered {r.status_code}: {r.read()[:500]!r}")
                for chunk in r.iter_raw():
                    out.write(chunk)
                    size += len(chunk)
            seconds = time.perf_counter() - started
        finally:
            done.set()
            sampler.join()
        out.seek(0)
        manifest = verify_export(out.read())
    return Measured(manifest.rows, seconds, size / 1e6, before / 1024, peak / 1024)


def main(scale: str, seed: int, engines: str = "sqlite") -> None:
    urls = ensure_warehouses(scale, seed, engines.split(","))
    lines = [
        f"## Exports (`python -m bench.exports {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}; `GET /v1/payments?format=…` through HTTP against one uvicorn process "
        "(the served app: guard, audit trail, cache), the zip read to the last byte and then verified "
        f"(`verify_export`). Target: CSV ≥ {TARGET_ROWS_S:,} rows/s, and the server's peak RSS during an "
        "export not growing with its rows (constant memory; most of what an export adds is the SQLite "
        "connection's 32 MB page cache).",
        "",
        "| engine | export | rows | time | rows/s | zip | server RSS before | peak during | growth |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for label, url in urls.items():
        large, small = questions(url)
        with serve(url) as (base, pid):
            httpx.get(base + "/v1/payments", params={"limit": 1}, headers=auth_header())  # warm up
            # the small one first: the large one then starts from what it left (page cache, buffers),
            # and any memory growing with rows shows as a higher peak
            runs = [
                ("CSV, " + _label(small), measure(base, pid, small, "csv")),
                ("CSV, " + _label(large), measure(base, pid, large, "csv")),
                ("XLSX, " + _label(small), measure(base, pid, small, "xlsx")),
            ]
        for name, m in runs:
            lines.append(
                f"| {label} | {name} | {m.rows:,} | {m.seconds:.1f} s | {m.rate:,.0f} | {m.megabytes:.1f} MB "
                f"| {m.rss_before_mb:.0f} MB | {m.rss_peak_mb:.0f} MB | {m.growth_mb:+.0f} MB |"
            )
            print(lines[-1], flush=True)
        tenth, big = runs[0][1], runs[1][1]
        flat = big.rss_peak_mb <= tenth.rss_peak_mb + FLAT_MB
        verdicts.append(
            f"{label}: CSV {big.rate:,.0f} rows/s ({'meets' if big.rate >= TARGET_ROWS_S else 'misses'} the "
            f"target) over {big.rows:,} rows; the server's peak {big.rss_peak_mb:.0f} MB for "
            f"{big.rows:,} rows against {tenth.rss_peak_mb:.0f} MB for {tenth.rows:,}: memory "
            f"{'constant' if flat else 'GROWS with rows'} (tolerance {FLAT_MB} MB)."
        )
    lines += ["", *verdicts]
    write_section(f"exports-{scale}", "\n".join(lines))
    print("\n".join(verdicts))


def _label(params: dict[str, Any]) -> str:
    if not params:
        return "every payment"
    return " ".join(f"{k}={v}" for k, v in params.items())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "province", 1)
