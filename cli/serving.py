"""``oversight serve`` and ``oversight demo``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (the service is stateless).")] = 1,
    dispatch: Annotated[
        bool, typer.Option(help="Also deliver the outbox to the feedback channels (a dispatcher thread).")
    ] = False,
) -> None:
    """Serve the oversight API (REST under /v1, GraphQL at /graphql, docs at /docs, health at /healthz)."""
    import uvicorn

    from security.audit import AuditSettings

    signing_key = AuditSettings().signing_key
    if not signing_key.exists():
        console.print(
            f"[red]no audit signing key at {signing_key}[/]: every request goes into a signed audit log; "
            "create the key with `oversight audit init` (or set OVERSIGHT_AUDIT_SIGNING_KEY)"
        )
        raise typer.Exit(2)

    console.print(f"serving on [bold]http://{host}:{port}[/] (docs: http://{host}:{port}/docs)")
    stop = None
    if dispatch:
        from cli.feedback import start_dispatcher_thread

        stop = start_dispatcher_thread()
        console.print("delivering the outbox to the configured channels (oversight outbox shows it)")
    uvicorn.run(
        "api.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
    if stop is not None:
        stop.set()


def demo_keys(region: str = "410000000") -> str:
    """The demo's local keys (the token issuer's and the audit checkpoints'), made once, and a token."""
    from security.audit import AuditSettings
    from security.checkpoints import create_signing_key
    from security.tokens import AuthSettings, init_keys, mint

    auth = AuthSettings()
    if not auth.jwks_path.exists():
        init_keys(auth.keys_dir, settings=auth)
    audit = AuditSettings()
    if not audit.signing_key.exists():
        create_signing_key(audit.signing_key)
    return mint(
        auth.keys_dir, body="congress", region=region, ttl_seconds=8 * 3600, sub="demo", settings=auth
    )


def demo_command(
    scale: Annotated[str, typer.Option(help="small, medium or province.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the generated province.")] = 1,
    data_dir: Annotated[Path, typer.Option(help="Where the generated batch is kept.")] = Path("demo-data"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    serve: Annotated[bool, typer.Option(help="Serve the API after loading.")] = True,
) -> None:
    """Generate a demo province, load it, and serve the API on it."""
    from cli.loading import generate_batch, run_load

    batch = data_dir / f"{scale}-seed{seed}"
    if (batch / "manifest.json").exists():
        console.print(f"using the demo batch already generated in {batch}")
    else:
        generate_batch(batch, scale=scale, seed=seed, fmt="csv", encoding="utf-8")
    if run_load(batch, source="demo") is None:
        raise typer.Exit(2)
    token = demo_keys()
    console.print("a token for the demo (a people's congress reader of the province, valid 8 hours):")
    console.print(token, soft_wrap=True, highlight=False)
    console.print(
        'use it as [bold]Authorization: Bearer <token>[/] (e.g. curl -H "Authorization: Bearer $TOKEN" '
        f"http://{host}:{port}/v1/summary); more with `oversight token --body audit --region 410100000`"
    )
    if serve:
        # the demo is for exploring: GraphQL introspection and its GraphiQL page are on (off by default)
        os.environ.setdefault("OVERSIGHT_GRAPHQL_INTROSPECTION", "true")
        console.print(f"GraphQL: http://{host}:{port}/graphql (GraphiQL in the browser)")
        serve_command(host=host, port=port)
