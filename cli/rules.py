"""``oversight rules`` (list, run, score) and ``oversight whitelist`` (add, list, end)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

console = Console()
rules_app = typer.Typer(
    help="The warning rules (预警规则): catalogue, evaluation, scoring.", no_args_is_help=True
)
whitelist_app = typer.Typer(help="The whitelist (白名单) of known-legitimate patterns.", no_args_is_help=True)


def _configs():  # type: ignore[no-untyped-def]
    from monitor.config import ConfigError, load_config
    from monitor.rules import RULES

    try:
        return load_config(RULES)
    except ConfigError as exc:
        console.print(f"[red]monitoring configuration:[/] {exc}")
        raise typer.Exit(2) from None


@rules_app.command("list")
def list_rules() -> None:
    """The rule catalogue with levels, parameters (as configured) and legal basis."""
    configs = _configs()
    out = Table(title=f"{len(configs)} warning rules", show_lines=True)
    for col in ("code", "group", "name", "level", "fires when", "parameters"):
        out.add_column(col, overflow="fold")
    for cfg in configs.values():
        r = cfg.rule
        values = cfg.values()
        params = "\n".join(f"{k} = {', '.join(v) if isinstance(v, tuple) else v}" for k, v in values.items())
        state = "" if cfg.enabled else " [dim](off)[/]"
        level = cfg.effective_level
        out.add_row(
            r.code + state,
            r.group,
            f"{r.name}\n{r.title}",
            f"{level.chinese} {level.value}",
            r.fires_when.format_map(
                {k: (", ".join(v) if isinstance(v, tuple) else v) for k, v in values.items()}
            ),
            params + (f"\nper region: {', '.join(cfg.by_region)}" if cfg.by_region else ""),
        )
    console.print(out)


def print_run(report) -> None:  # type: ignore[no-untyped-def]
    since = f" over loads after run {report.since}" if report.since is not None else ""
    out = Table(title=f"monitor run {report.run_id} · {report.mode}{since} · as of {report.as_of}")
    for col in ("rule", "evaluated", "findings", "raised", "suppressed", "cleared", "ms"):
        out.add_column(col, justify="left" if col in ("rule", "evaluated") else "right")
    for o in report.outcomes:
        out.add_row(
            o.code,
            o.mode,
            f"{o.findings:,}",
            f"{o.raised:,}",
            f"{o.suppressed:,}",
            f"{o.cleared:,}",
            f"{o.seconds * 1000:,.0f}",
        )
    console.print(out)
    console.print(
        f"{report.findings:,} findings, {report.raised:,} new warnings, {report.suppressed:,} whitelisted, "
        f"{report.cleared:,} cleared, in {report.seconds:.1f} s"
    )
    if report.unofficial_years:
        years = ", ".join(str(y) for y in report.unofficial_years)
        console.print(
            f"[yellow]no official holiday calendar for {years}:[/] working days there are Monday–Friday"
        )


@rules_app.command("run")
def run(
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only over what loads wrote since the last run.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(help="Evaluation date YYYY-MM-DD (default: the day before the data's extraction)."),
    ] = None,
    rule: Annotated[list[str] | None, typer.Option(help="Only this rule (code or key); repeatable.")] = None,
) -> None:
    """Evaluate the warning rules over the warehouse and bring the warnings ledger up to date."""
    from monitor.runner import run_rules
    from schema.db import default_engine
    from schema.migrate import upgrade

    try:
        evaluation = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        console.print(f"[red]--as-of {as_of!r} is not a date YYYY-MM-DD[/]")
        raise typer.Exit(2) from None
    configs = _configs()
    engine = default_engine()
    upgrade(engine)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("rules", total=None)

        def progress(code: str, index: int, total: int) -> None:
            bar.update(task, description=code, completed=index, total=total)

        try:
            report = run_rules(
                engine,
                incremental=incremental,
                as_of=evaluation,
                only=rule,
                configs=configs,
                progress=progress,
            )
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        bar.update(task, description="done", completed=len(report.outcomes))
    print_run(report)


@rules_app.command("score")
def score_command(
    truth: Annotated[Path, typer.Option(help="The planted anomalies (anomalies.jsonl of a demo batch).")],
    strict: Annotated[bool, typer.Option(help="Exit 1 unless every planted anomaly is found.")] = False,
) -> None:
    """Compare the warnings with planted anomalies: per rule planted, found, missed; unplanted warnings."""
    from monitor.score import TruthError, read_truth, score
    from schema.db import default_engine

    try:
        plants = read_truth(truth)
    except TruthError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    result = score(default_engine(), plants)
    out = Table(title=f"score against {truth}")
    for col in ("rule", "key", "planted", "found", "missed", "recall", "unplanted warnings"):
        out.add_column(col, justify="left" if col in ("rule", "key") else "right")
    for s in result.rules:
        colour = "red" if s.missed else ""
        out.add_row(
            s.code,
            s.key,
            str(s.planted),
            str(s.found),
            f"[{colour}]{len(s.missed)}[/]" if colour else "0",
            s.recall,
            str(len(s.unplanted)),
        )
    console.print(out)
    console.print(f"found {result.found} of {result.planted} planted anomalies")
    for s in result.rules:
        for plant in s.missed:
            console.print(
                f"[red]missed[/] {s.code} {plant.object_type} {', '.join(plant.object_ids)}: {plant.note}"
            )
    for s in result.rules:
        for w in s.unplanted:
            console.print(
                f"[yellow]unplanted[/] {s.code} {w['object_type']} {w['object_id']} "
                f"({w['mof_div_code']}, {w['fiscal_year']}): {w['message']}"
            )
    for key, n in result.unknown_rules.items():
        console.print(f"[red]{n} planted under rule {key!r}, which the catalogue does not have[/]")
    if strict and not result.complete:
        raise typer.Exit(1)


@whitelist_app.command("add")
def whitelist_add(
    reason: Annotated[str, typer.Option(help="Why the pattern is legitimate (kept with the entry).")],
    by: Annotated[str, typer.Option(help="Who adds it (name or id).")],
    rule: Annotated[str | None, typer.Option(help="Rule code or key (default: every rule).")] = None,
    region: Annotated[str | None, typer.Option(help="mof_div_code: this region and its subtree.")] = None,
    agency: Annotated[str | None, typer.Option(help="agency_code of the unit.")] = None,
    payee: Annotated[str | None, typer.Option(help="payee_key of the resolved payee.")] = None,
    object_id: Annotated[str | None, typer.Option("--object", help="One object's id.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day it applies, YYYY-MM-DD.")] = None,
) -> None:
    """Suppress warnings matching a known-legitimate pattern (every option given must match)."""
    from monitor.whitelist import WhitelistError, add_entry
    from schema.db import default_engine
    from schema.migrate import upgrade

    engine = default_engine()
    upgrade(engine)
    try:
        entry_id = add_entry(
            engine,
            reason=reason,
            added_by=by,
            rule=rule,
            region=region,
            agency=agency,
            payee=payee,
            object_id=object_id,
            valid_to=until,
        )
    except WhitelistError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"whitelist entry {entry_id} added; the next `oversight rules run` clears what it matches")


@whitelist_app.command("list")
def whitelist_list() -> None:
    """The whitelist: each entry's pattern, who added it, when and why."""
    from monitor.whitelist import entries
    from schema.db import default_engine

    out = Table(title="whitelist")
    for col in ("id", "rule", "region", "unit", "payee", "object", "reason", "added by", "added", "until"):
        out.add_column(col, overflow="fold")
    for e in entries(default_engine()):
        out.add_row(
            str(e.id),
            e.rule_code or "*",
            e.mof_div_code or "*",
            e.agency_code or "*",
            e.payee_key or "*",
            e.object_id or "*",
            e.reason,
            e.added_by,
            f"{e.added_at:%Y-%m-%d}",
            str(e.valid_to or ""),
        )
    console.print(out)


@whitelist_app.command("end")
def whitelist_end(
    entry: Annotated[int, typer.Argument(help="The entry's id.")],
    on: Annotated[str | None, typer.Option(help="Last day it applies (default: yesterday).")] = None,
) -> None:
    """End a whitelist entry (entries are never deleted, so what was suppressed when stays provable)."""
    from monitor.whitelist import WhitelistError, end_entry
    from schema.db import default_engine

    try:
        end_entry(default_engine(), entry, on)
    except WhitelistError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"whitelist entry {entry} ended")
