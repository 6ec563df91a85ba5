"""``oversight``: set up the warehouse, load feed batches, generate a demo province, serve the API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.audit import audit_app
from cli.auth import keys_app, token_command
from cli.feedback import channels_app, dispatch_command, outbox_app
from cli.loading import load_command, quarantine_command, runs_command
from cli.report import report_command
from cli.rules import rules_app, whitelist_app
from cli.serving import demo_command, serve_command
from cli.sync import sync_command

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The warehouse schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(rules_app, name="rules")
app.add_typer(whitelist_app, name="whitelist")
app.add_typer(outbox_app, name="outbox")
app.add_typer(channels_app, name="channels")
console = Console()


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the warehouse schema and its shipped reference data."""
    from schema.db import default_engine
    from schema.migrate import current_revision, upgrade

    engine = default_engine()
    upgrade(engine, revision)
    console.print(
        f"warehouse at revision [bold]{current_revision(engine)}[/] ({engine.url.render_as_string()})"
    )


@db_app.command("current")
def db_current() -> None:
    """Print the warehouse's schema revision."""
    from schema.db import default_engine
    from schema.migrate import current_revision

    console.print(current_revision(default_engine()) or "empty (run: oversight db upgrade)")


@db_app.command("refresh")
def db_refresh() -> None:
    """Rebuild every derived table (summaries, keyword index, payees) from the warehouse."""
    import time

    from connectors.ingest.loader import settle_earlier
    from connectors.ingest.postload import after_load
    from schema.db import default_engine
    from schema.migrate import upgrade

    engine = default_engine()
    upgrade(engine)
    started = time.perf_counter()
    with console.status("rebuilding summaries, keyword index and payees…"):
        done = after_load(engine, run_id=0, changed=set(), force=True)
        settle_earlier(engine, 2**31 - 1)  # every finished run is taken in
    for line in done:
        console.print(f"rebuilt {line}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the batch into.")],
    scale: Annotated[
        str, typer.Option(help="small (≈20k payments), medium (≈500k) or province (≈5M).")
    ] = "small",
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or xlsx.")] = "csv",
    encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8 or gb18030.")] = "utf-8",
    source_db: Annotated[
        str | None,
        typer.Option(
            help="Also write the batch into this database as a 预算管理一体化 system's tables (a demo source "
            "for `oversight sync` with the yth preset): a SQLAlchemy URL, e.g. sqlite:///yth.db."
        ),
    ] = None,
) -> None:
    """Generate a realistic demo province (Henan) in the canonical feed format, with planted anomalies."""
    from cli.loading import generate_batch

    generate_batch(out, scale=scale, seed=seed, fmt=fmt, encoding=encoding)
    if source_db:
        from sqlalchemy import create_engine

        from demo.source_system import create_schema, from_batch
        from schema.db import normalise_url

        source = create_engine(normalise_url(source_db))
        with console.status(f"writing the 一体化 tables into {source.url.render_as_string()}…"):
            create_schema(source)
            counts = from_batch(source, out)
        source.dispose()
        summary = ", ".join(f"{t} {n:,}" for t, n in counts.items())
        console.print(f"wrote the demo 一体化 system: {summary}")


app.command("load")(load_command)
app.command("quarantine")(quarantine_command)
app.command("runs")(runs_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.command("token")(token_command)
app.command("sync")(sync_command)
app.command("dispatch")(dispatch_command)
app.command("report")(report_command)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
