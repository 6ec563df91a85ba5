"""``oversight sync``: pull from the configured source systems, once or on a schedule, with progress."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from connectors.sync.runner import SyncReport

console = Console()
log = logging.getLogger("oversight.sync")


def sync_command(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source (repeatable; default: all).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Sync once and exit (the default).")] = False,
    every: Annotated[
        str | None, typer.Option("--every", help="Sync again at this interval (5m, 30s, 1h) until stopped.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="The sources file (default: OVERSIGHT_SYNC_CONFIG, else ./oversight-sync.toml)."),
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Records per committed chunk.", min=100)] = 5000,
    monitor: Annotated[
        bool, typer.Option(help="Evaluate the warning rules over what the sync wrote (incremental run).")
    ] = True,
) -> None:
    """Pull new and changed records from the configured sources (budget system, treasury, special funds,
    drop folders), land them like `oversight load`, bring summaries up to date, then run the rules."""
    from connectors.sync.config import ConfigError, SyncSettings, duration, load_config
    from schema.db import default_engine
    from schema.migrate import upgrade

    if once and every:
        console.print("[red]--once and --every exclude each other[/]")
        raise typer.Exit(2)
    interval: timedelta | None = None
    if every:
        try:
            interval = duration(every, "--every")
        except ConfigError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        if interval.total_seconds() < 1:
            console.print("[red]--every: at least 1s[/]")
            raise typer.Exit(2)
    path = config or SyncSettings().config
    try:
        sources = load_config(path)
    except ConfigError as exc:
        console.print(f"[red]configuration:[/] {exc}")
        raise typer.Exit(2) from None
    if source:
        missing = [s for s in source if s not in sources]
        if missing:
            console.print(
                f"[red]no enabled source named {', '.join(missing)} in {path}[/]"
                f" (known: {', '.join(sources)})"
            )
            raise typer.Exit(2)
        names = list(source)
    else:
        names = list(sources)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = default_engine()
    upgrade(engine)
    if interval is None:
        failed = _cycle(engine, path, names, chunk_size, monitor)
        raise typer.Exit(1 if failed else 0)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"syncing {', '.join(names)} every {every}; Ctrl-C stops after the sync in progress")
    while not stop.is_set():
        started = time.monotonic()
        _cycle(engine, path, names, chunk_size, monitor)
        stop.wait(max(0.0, interval.total_seconds() - (time.monotonic() - started)))


def _cycle(engine: Any, path: Path, names: list[str], chunk_size: int, monitor: bool) -> int:
    """One sync of each named source (the file is read anew, so an edit applies at the next cycle)."""
    from connectors.sync.config import ConfigError, load_config
    from connectors.sync.core import SyncBusy

    try:
        sources = load_config(path)
    except ConfigError as exc:
        log.error("configuration: %s", exc)
        return len(names)
    failed = 0
    for name in names:
        if name not in sources:
            log.error("source %s is no longer in %s", name, path)
            failed += 1
            continue
        try:
            report = _sync_one(engine, sources[name], chunk_size, monitor)
        except SyncBusy as exc:
            log.warning("%s", exc)
            failed += 1
            continue
        print_sync_report(report)
        if not report.ok:
            failed += 1
    return failed


def _sync_one(engine: Any, source: Any, chunk_size: int, monitor: bool) -> SyncReport:
    from connectors.sync.runner import sync_source

    tasks: dict[str, TaskID] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<28}"),
        TextColumn("{task.completed:>10,} records"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:

        def progress(label: str, done: int, _total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=None)
            bar.update(tasks[label], completed=done)

        return sync_source(engine, source, chunk_size=chunk_size, progress=progress, monitor=monitor)


def print_sync_report(report: SyncReport) -> None:
    title = f"sync of {report.source} ({report.kind})" + (f" · run {report.run_id}" if report.run_id else "")
    table = Table(title=title)
    for col in (
        "stream",
        "table",
        "status",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "quarantined",
        "bookmark",
    ):
        table.add_column(
            col,
            justify="right"
            if col in ("read", "inserted", "updated", "unchanged", "deleted", "quarantined")
            else "left",
        )
    for s in report.streams:
        c = s.counts
        status = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}.get(s.status, s.status)
        table.add_row(
            s.stream,
            s.table,
            status,
            *(f"{v:,}" for v in (c.read, c.inserted, c.updated, c.unchanged, c.deleted, c.quarantined)),
            s.cursor or "",
        )
    console.print(table)
    for s in report.streams:
        if s.unknown_columns:
            console.print(f"{s.stream}: source columns no field takes: {', '.join(s.unknown_columns)}")
    for line in report.post_load:
        console.print(line if line.startswith("monitoring") else f"updated {line}")
    if report.error:
        console.print(f"[red]{report.error}[/]")
    console.print(f"{report.source}: {report.changed:,} records changed in {report.seconds:.1f} s")
