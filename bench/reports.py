"""Periodic oversight reports over a loaded province: a monthly report of the newest month, as HTML and as
XLSX, for the province and for one city, with the seconds each section took.

Target (issue 9, `province` scale, ≈5M payments): ≤ 10 s for each of html and xlsx, for the province and for
a city, on each engine. Each report is built and rendered twice in one process, as a request would be; the
first run pays for cold caches (the database's pages, matplotlib's fonts), the second is the steady state.

The warehouse is bench/monitor.py's (``bench/out/monitor-<scale>.db`` and
``oversight_bench_monitor_<scale>``): it holds the warnings ledger the report's third section reads. When
the ledger is empty (a fresh warehouse) one full rule run fills it first, untimed.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.common import write_section
from bench.monitor import ensure_warehouses
from schema.db import make_engine

TARGET_S = 10
SECTIONS = ("execution", "special_funds", "warnings", "inquiries", "freshness")


@dataclass
class Measured:
    engine: str
    region: str
    fmt: str
    cold: float
    warm: float
    bytes: int
    sections: dict[str, float]  # of the warm run, rendering included as "render"


def ensure_ledger(url: str) -> str | None:
    """Fill an empty warnings ledger with one full run; returns what was done, for the notes."""
    from monitor.runner import run_rules
    from schema.monitor import Warning

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(Warning)).scalar_one():
                return None
        report = run_rules(engine)
        took = f"{report.seconds:.0f} s, {report.findings:,} findings"
        return f"the empty ledger was filled by a full rule run first ({took})"
    finally:
        engine.dispose()


def subjects(url: str) -> tuple[str, str, str]:
    """The newest month with payments (YYYY-MM), the top region holding data, and its first child."""
    from schema.derived import ScopeRollup
    from schema.models import MofDiv

    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            with_data = select(ScopeRollup.scope_code).where(ScopeRollup.dim == "total")
            province = conn.execute(
                select(MofDiv.mof_div_code)
                .where(MofDiv.parent_code.is_(None), MofDiv.mof_div_code.in_(with_data))
                .order_by(MofDiv.mof_div_code)
                .limit(1)
            ).scalar_one()
            newest = conn.execute(
                select(func.max(ScopeRollup.last_paid_on)).where(
                    ScopeRollup.scope_code == province, ScopeRollup.dim == "total"
                )
            ).scalar_one()
            city = conn.execute(
                select(MofDiv.mof_div_code)
                .where(MofDiv.parent_code == province)
                .order_by(MofDiv.mof_div_code)
                .limit(1)
            ).scalar_one()
    finally:
        engine.dispose()
    day = newest if isinstance(newest, date) else date.fromisoformat(str(newest)[:10])
    return f"{day.year:04d}-{day.month:02d}", province, city


def one_report(url: str, period: str, region: str, fmt: str) -> tuple[float, int, dict[str, float]]:
    """Build and render one report as the API does (one read transaction); seconds, size, per section."""
    from api.reports.html import render_html
    from api.reports.period import parse_period
    from api.reports.service import build_report
    from api.reports.xlsx import render_xlsx
    from security.scope import Scope

    engine = make_engine(url, read_only=True)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            report = build_report(
                session, Scope(region=region), parse_period(period), region, timings=timings
            )
        rendering = time.perf_counter()
        size = len(render_html(report).encode("utf-8")) if fmt == "html" else len(render_xlsx(report))
        timings["render"] = time.perf_counter() - rendering
        return time.perf_counter() - started, size, timings
    finally:
        engine.dispose()


def measure(label: str, url: str, period: str, regions: list[str]) -> list[Measured]:
    out = []
    for region in regions:
        for fmt in ("html", "xlsx"):
            cold, _, _ = one_report(url, period, region, fmt)
            warm, size, sections = one_report(url, period, region, fmt)
            out.append(Measured(label, region, fmt, cold, warm, size, sections))
            print(f"{label} {region} {fmt}: {cold:.2f} s cold, {warm:.2f} s warm, {size:,} bytes", flush=True)
    return out


def main(scale: str, seed: int, engines: str = "sqlite,postgresql") -> None:
    _, urls = ensure_warehouses(scale, seed, engines.split(","))
    notes = [f"{label}: {note}" for label, url in urls.items() if (note := ensure_ledger(url))]
    period, province, city = subjects(next(iter(urls.values())))
    lines = [
        f"## Reports (`python -m bench.reports --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}; the monthly report of {period} (the newest month), built and "
        f"rendered in one process as a request is. Target: ≤ {TARGET_S} s for html and for xlsx, for the "
        f"province ({province}) and for a city ({city}). Seconds per section are the warm run's.",
        "",
        "| engine | region | format | cold | warm | size | " + " | ".join(SECTIONS) + " | render |",
        "| --- | --- | --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in SECTIONS) + " | ---: |",
    ]
    for label, url in urls.items():
        for m in measure(label, url, period, [province, city]):
            verdict = "" if m.warm <= TARGET_S else " (over target)"
            cells = " | ".join(f"{m.sections.get(s, 0):.2f}" for s in (*SECTIONS, "render"))
            lines.append(
                f"| {m.engine} | {m.region} | {m.fmt} | {m.cold:.2f} s | {m.warm:.2f} s{verdict} "
                f"| {m.bytes / 1024:,.0f} KiB | {cells} |"
            )
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    write_section(f"reports-{scale}", "\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="province", help="small, medium or province (default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    main(args.scale, args.seed, args.engines)
