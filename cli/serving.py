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
) -> None:
    """Serve the oversight API (REST under /v1, GraphQL at /graphql, docs at /docs, health at /healthz)."""
    import uvicorn

    console.print(f"serving on [bold]http://{host}:{port}[/] (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "api.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
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
    if serve:
        # the demo is for exploring: GraphQL introspection and its GraphiQL page are on (off by default)
        os.environ.setdefault("OVERSIGHT_GRAPHQL_INTROSPECTION", "true")
        console.print(f"GraphQL: http://{host}:{port}/graphql (GraphiQL in the browser)")
        serve_command(host=host, port=port)
