"""``oversight load`` and ``oversight generate``: progress bars and the per-table report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

console = Console()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def load_command(
    path: Annotated[
        Path, typer.Argument(help="The batch folder (one file per table, optional manifest.json).")
    ],
    source: Annotated[
        str | None,
        typer.Option(help="Source name recorded on every row (default: the manifest's, else 'files')."),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Rows per committed chunk.", min=100)] = 5000,
    monitor: Annotated[
        bool,
        typer.Option(
            help="Evaluate the warning rules over what the load wrote (--no-monitor: leave it "
            "to the next `oversight rules run --incremental`)."
        ),
    ] = True,
) -> None:
    """Load a feed batch: upserts by update_time, soft deletes, quarantine, a report per table; then the
    warning rules, incrementally."""
    report = run_load(path, source=source, chunk_size=chunk_size, monitor=monitor)
    if report is None:
        raise typer.Exit(2)


def run_load(path: Path, *, source: str | None = None, chunk_size: int = 5000, monitor: bool = True):  # type: ignore[no-untyped-def]
    from connectors.ingest.batch import BatchError
    from connectors.ingest.loader import load_batch
    from schema.db import default_engine
    from schema.migrate import upgrade

    engine = default_engine()
    upgrade(engine)
    tasks: dict[str, TaskID] = {}
    with _progress() as bar:

        def progress(table: str, done: int, total: int | None) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)

        try:
            report = load_batch(
                engine, path, source=source, chunk_size=chunk_size, progress=progress, monitor=monitor
            )
        except BatchError as exc:
            console.print(f"[red]cannot load {path}:[/] {exc}")
            return None
    print_report(report)
    return report


def print_report(report) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"load run {report.run_id} · source {report.source} · {report.batch}")
    for col in (
        "table",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "stale",
        "deleted",
        "quarantined",
        "rows/s",
    ):
        table.add_column(col, justify="left" if col == "table" else "right", no_wrap=True)
    for r in report.tables:
        c = r.counts
        if r.status == "rejected":
            table.add_row(r.table, "[red]rejected[/]", "", "", "", "", "", "", "")
            continue
        counts = (c.read, c.inserted, c.updated, c.unchanged, c.stale, c.deleted, c.quarantined)
        rate = f"{c.read / r.seconds:,.0f}" if r.seconds > 0 else ""
        table.add_row(r.table, *(f"{v:,}" for v in counts), rate)
    console.print(table)
    for r in report.tables:
        if r.status == "rejected":
            console.print(f"[red]{r.table} rejected:[/] {r.message}")
        if r.unknown_columns:
            console.print(f"{r.table}: unknown columns ignored: {', '.join(r.unknown_columns)}")
    if report.ignored_files:
        console.print(f"ignored files (not feed tables): {', '.join(report.ignored_files)}")
    for line in report.post_load:
        console.print(line if line.startswith("monitoring") else f"updated {line}")
    quarantined = sum(r.counts.quarantined for r in report.tables)
    if quarantined:
        console.print(
            f"[yellow]{quarantined:,} rows quarantined[/]: see `oversight quarantine {report.run_id}`"
        )


def generate_batch(out: Path, *, scale: str, seed: int, fmt: str, encoding: str) -> dict[str, int]:
    from demo.generate import SCALES, generate

    if scale not in SCALES:
        console.print(f"[red]unknown scale {scale!r}[/]; choose one of {', '.join(SCALES)}")
        raise typer.Exit(2)
    tasks: dict[str, TaskID] = {}
    with _progress() as bar:

        def progress(table: str, done: int, total: int | None) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done, total=total)

        try:
            counts = generate(out, scale=scale, seed=seed, fmt=fmt, encoding=encoding, progress=progress)
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    summary = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    console.print(f"wrote {out}: {summary}")
    return counts


def quarantine_command(
    run_id: Annotated[int | None, typer.Argument(help="Load run (default: the latest run).")] = None,
    table: Annotated[str | None, typer.Option(help="Only this feed table.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show at most.", min=1)] = 50,
) -> None:
    """Show the rows a load quarantined: table, file line, field and reason."""
    from sqlalchemy import func, select

    from schema.db import default_engine
    from schema.loading import LoadRun, Quarantine

    engine = default_engine()
    with engine.connect() as conn:
        if run_id is None:
            run_id = conn.execute(select(func.max(LoadRun.id))).scalar_one()
        if run_id is None:
            console.print("no load has run yet")
            raise typer.Exit(1)
        query = select(Quarantine).where(Quarantine.run_id == run_id)
        if table:
            query = query.where(Quarantine.table_name == table)
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(Quarantine.table_name, Quarantine.line).limit(limit)).all()
    out = Table(
        title=f"load run {run_id}: {total:,} quarantined rows"
        + (f" (first {limit})" if total > limit else "")
    )
    for col in ("table", "file", "line", "field", "reason"):
        out.add_column(col, justify="right" if col == "line" else "left")
    for q in rows:
        out.add_row(q.table_name, q.file_name, str(q.line), q.field or "", q.reason)
    console.print(out)


def runs_command(limit: Annotated[int, typer.Option(help="Runs to show.", min=1)] = 20) -> None:
    """List the latest load runs with their status and per-table counts."""
    from sqlalchemy import select

    from schema.db import default_engine
    from schema.loading import LoadRun, LoadTableReport

    engine = default_engine()
    with engine.connect() as conn:
        runs = conn.execute(select(LoadRun).order_by(LoadRun.id.desc()).limit(limit)).all()
        reports = conn.execute(
            select(LoadTableReport).where(LoadTableReport.run_id.in_([r.id for r in runs]))
        ).all()
    out = Table(title="load runs")
    for col in ("run", "source", "status", "started (UTC)", "tables", "inserted", "updated", "quarantined"):
        out.add_column(col)
    for r in runs:
        mine = [t for t in reports if t.run_id == r.id]
        out.add_row(
            str(r.id),
            r.source,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            str(len(mine)),
            f"{sum(t.inserted for t in mine):,}",
            f"{sum(t.updated for t in mine):,}",
            f"{sum(t.quarantined for t in mine):,}",
        )
    console.print(out)
