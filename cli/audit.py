"""``oversight audit``: the signing key and the writer's role, verification, checkpoints, retention.

These commands connect with the warehouse's URL (``OVERSIGHT_DATABASE_URL``): the owner of the tables, who
may create the role and prune. The API's writer connects with ``OVERSIGHT_AUDIT_DATABASE_URL``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.console import Console

audit_app = typer.Typer(help="The tamper-evident audit log (docs/audit.md).", no_args_is_help=True)
console = Console()


@audit_app.command("init")
def init(
    role: Annotated[str, typer.Option(help="PostgreSQL role the API's audit writer logs in through.")] = (
        "oversight_audit_writer"
    ),
) -> None:
    """Create the checkpoint signing key (once) and, on PostgreSQL, the INSERT-only writer role."""
    from schema.db import make_engine
    from schema.migrate import upgrade
    from security.audit import AuditSettings, ensure_writer_role
    from security.checkpoints import create_signing_key, key_id, load_signing_key, public_path

    settings = AuditSettings()
    path = settings.signing_key
    if path.exists():
        key = load_signing_key(path)
        console.print(f"signing key {path} exists (key id {key_id(key.public_key())}); kept")
    else:
        key = create_signing_key(path)
        console.print(f"signing key written to {path}, public key to {public_path(path)}")
        console.print(f"key id {key_id(key.public_key())}: keep the public key with whoever verifies")
    engine = make_engine()
    try:
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            created = ensure_writer_role(engine, role)
            console.print(
                f"role [bold]{role}[/] {'created' if created else 'exists'}: INSERT and SELECT on audit_log, "
                f"SELECT on audit_prune; grant it to the API's login (GRANT {role} TO …)"
            )
    finally:
        engine.dispose()


@audit_app.command("verify")
def verify_command() -> None:
    """Recompute every leaf hash and the tree, check every checkpoint; exit 1 naming the first bad entry."""
    from schema.db import make_engine
    from security.audit import AuditSettings, verify

    settings = AuditSettings()
    engine = make_engine()
    try:
        report = verify(engine, settings.checkpoint_dir)
    finally:
        engine.dispose()
    if report.ok:
        console.print(report.summary(), soft_wrap=True)
        return
    console.print(f"[red]{report.summary()}[/]", soft_wrap=True, highlight=False)
    for finding in report.findings[:20]:
        console.print(f"  {finding}", soft_wrap=True, highlight=False)
    more = len(report.findings) + report.omitted - 20
    if more > 0:
        console.print(f"  … and {more} more")
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign a checkpoint of the log as it is now (the writer signs one every OVERSIGHT_AUDIT_CHECKPOINT_EVERY
    entries and at shutdown)."""
    from schema.db import make_engine
    from security.audit import AuditWriter

    engine = make_engine()
    try:
        cp = AuditWriter(engine).checkpoint()
    finally:
        engine.dispose()
    if cp is None:
        console.print("the audit log is empty: nothing to sign")
        return
    console.print(f"checkpoint {cp.file_name}: {cp.tree_size} entries, root {cp.root_hash.hex()}")


@audit_app.command("prune")
def prune_command(
    before: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Remove entries older than this day (UTC); default: OVERSIGHT_AUDIT_RETENTION_DAYS ago.",
        ),
    ] = None,
) -> None:
    """Remove the entries older than DATE, as far as a signed checkpoint reaches (a checkpointed prefix)."""
    from schema.db import make_engine
    from security.audit import AuditSettings, prune

    settings = AuditSettings()
    cutoff = (
        before.replace(tzinfo=UTC)
        if before
        else datetime.combine(date.today() - timedelta(days=settings.retention_days), time(), UTC)
    )
    engine = make_engine()
    try:
        report = prune(engine, cutoff, settings.checkpoint_dir)
    finally:
        engine.dispose()
    if not report.deleted and report.base == report.base_before:
        console.print(f"nothing to prune before {cutoff:%Y-%m-%d}: no checkpointed prefix is that old")
        return
    console.print(
        f"pruned {report.deleted} entries ({report.base_before}..{report.base - 1}); the log is verified "
        f"from checkpoint {report.checkpoint} on: keep that file"
    )
