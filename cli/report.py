"""``oversight report``: write a periodic oversight report of a region to a file."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


class Format(StrEnum):
    html = "html"
    xlsx = "xlsx"
    json = "json"


def report_command(
    period: Annotated[
        str, typer.Option(help="ISO week 2025-W14, month 2025-03, quarter 2025-Q1 or year 2025.")
    ],
    region: Annotated[str, typer.Option(help="9-digit finance region code: the report covers its subtree.")],
    fmt: Annotated[Format, typer.Option("--format", help="html (one self-contained page), xlsx or json.")] = (
        Format.html
    ),
    out: Annotated[
        Path | None,
        typer.Option(help="File to write (default: oversight-report-REGION-PERIOD.FORMAT here)."),
    ] = None,
) -> None:
    """Write a weekly, monthly, quarterly or annual oversight report (财库〔2015〕73号) of a region: execution
    against time progress, special funds, warnings, inquiries and data freshness. The report reads the
    warehouse of OVERSIGHT_DATABASE_URL, read only, with every inquiry of the region and personal data
    masked."""
    from sqlalchemy.orm import Session

    from api.errors import BadParameter, NotFound
    from api.reports.period import parse_period
    from api.reports.service import build_report
    from schema.db import make_engine
    from security.scope import Scope

    started = time.perf_counter()
    try:
        asked = parse_period(period)
    except BadParameter as exc:
        raise typer.BadParameter(exc.detail, param_hint="--period") from None
    engine = make_engine(read_only=True)
    timings: dict[str, float] = {}
    try:
        with Session(engine) as session, session.begin():
            report = build_report(session, Scope(region=None), asked, region, timings=timings)
    except NotFound:
        raise typer.BadParameter(f"no region {region!r} in the warehouse", param_hint="--region") from None
    except BadParameter as exc:
        raise typer.BadParameter(exc.detail, param_hint=f"--{exc.extra.get('parameter', 'region')}") from None
    finally:
        engine.dispose()
    rendering = time.perf_counter()
    if fmt is Format.html:
        from api.reports.html import render_html

        data = render_html(report).encode("utf-8")
    elif fmt is Format.xlsx:
        from api.reports.xlsx import render_xlsx

        data = render_xlsx(report)
    else:
        data = report.model_dump_json(indent=2).encode("utf-8")
    timings["render"] = time.perf_counter() - rendering
    path = out or Path(f"oversight-report-{report.region}-{report.period.label}.{fmt.value}")
    path.write_bytes(data)
    sections = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
    console.print(
        f"wrote [bold]{path}[/] ({len(data):,} bytes; {report.region_name or report.region}, "
        f"{report.period.label}, as of {report.as_of}) in {time.perf_counter() - started:.1f} s",
        soft_wrap=True,  # a path broken over two lines cannot be copied
    )
    console.print(f"[dim]{sections}[/]", soft_wrap=True)
