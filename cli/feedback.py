"""``oversight dispatch``, ``oversight outbox`` and ``oversight channels``: delivering the feedback loop's
events to outside channels, and looking after what could not be delivered."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from connectors.delivery.config import FeedbackConfig

console = Console()
outbox_app = typer.Typer(help="The outbox: pending events, dead letters, retries.", no_args_is_help=False)
channels_app = typer.Typer(help="The configured channels: state, enabling, secrets.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The feedback file (default: OVERSIGHT_FEEDBACK_CONFIG, else ./oversight-feedback.toml).",
    ),
]


def feedback_config(path: Path | None) -> FeedbackConfig:
    from connectors.delivery.config import FeedbackSettings, load_config
    from connectors.sync.config import ConfigError

    try:
        return load_config(path or FeedbackSettings().config)
    except ConfigError as exc:
        console.print(f"[red]configuration:[/] {exc}")
        raise typer.Exit(2) from None


def dispatch_command(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Deliver the outbox to the configured channels at least once, until stopped (Ctrl-C), and flag
    overdue inquiries every minute. Several dispatchers may run side by side on PostgreSQL."""
    from api.inquiries.lifecycle import sweep_overdue
    from connectors.delivery.dispatcher import Dispatcher
    from schema.db import default_engine
    from schema.migrate import upgrade

    cfg = feedback_config(config)
    if not cfg.channels:
        console.print("[yellow]no channels are configured[/]: events wait in the outbox until some are")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = default_engine()
    upgrade(engine)
    dispatcher = Dispatcher(engine, cfg)
    if once:
        flagged = sweep_overdue(engine, config=cfg)
        total = dispatcher.drain()
        dispatcher.close()
        console.print(
            f"delivered {total.delivered:,}, to retry later {total.retried:,}, dead letters {total.dead:,}"
            + (f", overdue inquiries flagged {flagged}" if flagged else "")
            + (f"; disabled (410 Gone): {', '.join(total.disabled)}" if total.disabled else "")
        )
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(r: object) -> None:
        from connectors.delivery.dispatcher import Round

        assert isinstance(r, Round)
        parts = ", ".join(f"{name} {n}" for name, n in sorted(r.by_channel.items()))
        console.print(
            f"delivered {r.delivered} ({parts or 'none'}); retry {r.retried}; dead {r.dead}"
            + (f"; disabled {', '.join(r.disabled)}" if r.disabled else ""),
            highlight=False,
        )

    console.print(f"dispatching to {', '.join(cfg.channels) or 'no channel'} (Ctrl-C stops)")
    try:
        dispatcher.run(stop, on_round=report, sweep=lambda: sweep_overdue(engine, config=cfg))
    except KeyboardInterrupt:
        stop.set()


def start_dispatcher_thread(config: Path | None = None) -> threading.Event:
    """A dispatcher inside ``oversight serve``: a daemon thread of its own, stopped with the server."""
    from api.inquiries.lifecycle import sweep_overdue
    from connectors.delivery.dispatcher import Dispatcher
    from schema.db import default_engine

    cfg = feedback_config(config)
    engine = default_engine()
    stop = threading.Event()
    dispatcher = Dispatcher(engine, cfg)
    thread = threading.Thread(
        target=dispatcher.run,
        args=(stop,),
        kwargs={"sweep": lambda: sweep_overdue(engine, config=cfg)},
        name="oversight-dispatch",
        daemon=True,
    )
    thread.start()
    return stop


@outbox_app.callback(invoke_without_command=True)
def outbox_summary(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Per channel: events pending (due now, waiting for a retry), delivered, dead letters; and whether
    the channel is configured and enabled."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy import case, func, select

    from connectors.delivery.events import utcnow
    from schema.db import default_engine
    from schema.feedback import ChannelState, DeadLetter, Outbox

    cfg = feedback_config(config)
    engine = default_engine()
    now = utcnow()
    with engine.connect() as conn:
        counts = {
            r.channel: r
            for r in conn.execute(
                select(
                    Outbox.channel,
                    func.sum(case((Outbox.status == "pending", 1), else_=0)).label("pending"),
                    func.sum(
                        case(((Outbox.status == "pending") & (Outbox.available_at <= now), 1), else_=0)
                    ).label("due"),
                    func.sum(case((Outbox.status == "delivered", 1), else_=0)).label("delivered"),
                    func.min(case((Outbox.status == "pending", Outbox.created_at))).label("oldest"),
                ).group_by(Outbox.channel)
            )
        }
        dead = dict(conn.execute(select(DeadLetter.channel, func.count()).group_by(DeadLetter.channel)).all())
        states = {s.channel: s for s in conn.execute(select(ChannelState)).all()}
    table = Table(
        "channel", "state", "pending", "due now", "oldest pending (UTC)", "delivered", "dead letters"
    )
    for name in sorted(set(counts) | set(dead) | set(cfg.channels)):
        c = counts.get(name)
        st = states.get(name)
        if name not in cfg.channels:
            state = "[yellow]not configured[/]"
        elif st is not None and st.disabled_at is not None:
            state = f"[red]disabled[/] ({st.reason})"
        else:
            state = "[green]enabled[/]"
        table.add_row(
            name,
            state,
            f"{c.pending or 0:,}" if c else "0",
            f"{c.due or 0:,}" if c else "0",
            str(c.oldest or "") if c else "",
            f"{c.delivered or 0:,}" if c else "0",
            f"{dead.get(name, 0):,}",
        )
    console.print(table)


@outbox_app.command("dead")
def outbox_dead(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
) -> None:
    """List the dead letters: events given up on, with their last error."""
    from sqlalchemy import select

    from schema.db import default_engine
    from schema.feedback import DeadLetter

    query = (
        select(DeadLetter.__table__).order_by(DeadLetter.died_at.desc(), DeadLetter.id.desc()).limit(limit)
    )
    if channel:
        query = query.where(DeadLetter.channel == channel)
    table = Table("id", "channel", "event", "event id", "attempts", "died (UTC)", "last error")
    with default_engine().connect() as conn:
        for d in conn.execute(query):
            table.add_row(
                str(d.id),
                d.channel,
                d.event_type,
                d.event_id,
                str(d.attempts),
                str(d.died_at),
                (d.last_error or "")[:120],
            )
    console.print(table)


@outbox_app.command("pending")
def outbox_pending(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, oldest first.", min=1)] = 50,
) -> None:
    """List pending events: when each is tried next, and why the last attempt failed."""
    from sqlalchemy import select

    from schema.db import default_engine
    from schema.feedback import Outbox

    query = select(Outbox.__table__).where(Outbox.status == "pending").order_by(Outbox.id).limit(limit)
    if channel:
        query = query.where(Outbox.channel == channel)
    table = Table("id", "channel", "event", "event id", "attempts", "next (UTC)", "last error")
    with default_engine().connect() as conn:
        for o in conn.execute(query):
            table.add_row(
                str(o.id),
                o.channel,
                o.event_type,
                o.event_id,
                str(o.attempts),
                str(o.available_at),
                (o.last_error or "")[:120],
            )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letters to retry (by id).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter (of --channel).")] = False,
    channel: Annotated[str | None, typer.Option(help="Only this channel's.")] = None,
) -> None:
    """Put dead letters back in the outbox, due now, with their attempts counted from zero."""
    from connectors.delivery.dispatcher import retry_dead
    from schema.db import default_engine, write_transaction

    if not ids and not all_:
        console.print("[red]name dead letters by id, or --all[/]")
        raise typer.Exit(2)
    with write_transaction(default_engine()) as conn:
        n = retry_dead(conn, ids if ids else None, channel)
    console.print(f"{n} dead letter(s) back in the outbox")


@outbox_app.command("purge")
def outbox_purge(
    older_than: Annotated[
        str, typer.Option(help="Age of what is deleted (at least 1d): 30d, 2w is 14d.")
    ] = "30d",
) -> None:
    """Delete delivered events and callback receipts older than ``--older-than``; pending events and dead
    letters stay."""
    from connectors.delivery.dispatcher import purge_delivered
    from connectors.delivery.events import utcnow
    from connectors.sync.config import ConfigError, duration
    from schema.db import default_engine, write_transaction

    try:
        age = duration(older_than, "--older-than")
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if age.total_seconds() < 86_400:
        console.print("[red]--older-than: at least 1d (a callback's receipt must outlive its signature)[/]")
        raise typer.Exit(2)
    with write_transaction(default_engine()) as conn:
        events, receipts = purge_delivered(conn, utcnow() - age)
    console.print(f"deleted {events:,} delivered event(s) and {receipts:,} callback receipt(s)")


@channels_app.command("list")
def channels_list(config: ConfigOption = None) -> None:
    """The configured channels, where they deliver, and whether they are enabled."""
    from sqlalchemy import select

    from schema.db import default_engine
    from schema.feedback import ChannelState

    cfg = feedback_config(config)
    with default_engine().connect() as conn:
        states = {s.channel: s for s in conn.execute(select(ChannelState)).all()}
    table = Table("channel", "type", "destination", "state", "callbacks as finance of")
    for name, section in cfg.channels.items():
        st = states.get(name)
        state = (
            f"[red]disabled[/] since {st.disabled_at} ({st.reason})" if st and st.disabled_at else "enabled"
        )
        table.add_row(
            name,
            str(section.get("type")),
            cfg.channel(name).describe(),
            state,
            cfg.callback_region(name) or "",
        )
    console.print(table)


@channels_app.command("enable")
def channels_enable(name: Annotated[str, typer.Argument(help="The channel.")]) -> None:
    """Enable a channel again (after its endpoint answered 410 Gone, or it was disabled): its waiting
    events are delivered by the next dispatch round."""
    from connectors.delivery.dispatcher import set_channel_state
    from schema.db import default_engine, write_transaction

    with write_transaction(default_engine()) as conn:
        set_channel_state(conn, name, None, None)
    console.print(f"channel {name} enabled")


@channels_app.command("disable")
def channels_disable(
    name: Annotated[str, typer.Argument(help="The channel.")],
    reason: Annotated[
        str, typer.Option(help="Why (shown by `oversight outbox`).")
    ] = "disabled by an operator",
) -> None:
    """Stop delivering to a channel; its events wait in the outbox."""
    from connectors.delivery.dispatcher import set_channel_state
    from connectors.delivery.events import utcnow
    from schema.db import default_engine, write_transaction

    with write_transaction(default_engine()) as conn:
        set_channel_state(conn, name, utcnow(), reason)
    console.print(f"channel {name} disabled")


@channels_app.command("new-secret")
def channels_new_secret() -> None:
    """Print a new webhook secret (whsec_…): put it first in the channel's `secrets`, keep the old one
    second until the receiver has switched, then drop it."""
    from connectors.channels.signing import new_secret

    console.print(new_secret(), highlight=False)
