"""What authentication, scope, masking, rate limits and the audit log cost: drill-down throughput at 32
connections of the full service against the same service without them (``bench/bare_app.py``).

Target (issue 5): together ≤ 15% of drill-down throughput. Two ``oversight serve`` workers each time, on
the `province` warehouses of ``bench/queries.py``; the drill-down is the province's departments by paid,
once served from the answer cache (where the security layers are most of the work) and once computed.
The full service runs with rate limits on (memory storage, a budget no run reaches) and writes an audit
entry for every request into the warehouse's own database.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.common import auth_header, write_section
from bench.queries import ensure_loaded, server, wrk

FULL = "api.app:served_app"
BARE = "bench.bare_app:bare_app"


def _command(factory: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--port",
        "{port}",
        "--workers",
        "2",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def _warm(url: str, rounds: int = 3) -> None:
    """The answer computed once in each worker before the timed run: 32 requests at once, each on a
    connection of its own, so that both workers take some (one keep-alive connection would reach one
    worker only, and the other would compute the answer under wrk's load, a second of the ten)."""
    headers = auth_header()

    def one(_: int) -> int:
        with httpx.Client(headers=headers, timeout=120) as client:
            return client.get(url).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        for _ in range(rounds):
            list(pool.map(one, range(32)))


def main(scale: str, seed: int) -> None:
    urls = ensure_loaded(scale, seed)
    year = 2025
    drill = "/v1/drilldown?" + urlencode(
        {"year": year, "region": "410000000", "by": "department", "sort": "-paid"}
    )
    results: dict[str, dict[str, Any]] = {}
    for engine, url in urls.items():
        results[engine] = {}
        for cache in (True, False):
            for name, factory in (("bare", BARE), ("full", FULL)):
                env = {
                    "OVERSIGHT_RATELIMIT_ENABLED": "true",
                    "OVERSIGHT_RATELIMIT_CONGRESS": "100000000/minute",
                }
                with server(url, command=_command(factory), cache=cache, env=env) as base:
                    if cache:
                        _warm(base + drill)
                    results[engine][(name, cache)] = wrk(base + drill, seconds=10)
    lines = [
        f"## Security overhead (`python -m bench.run security --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}; wrk, 32 connections, 10 s, two workers; the province's departments "
        f"by paid in {year}. *bare*: the same application without the guard (token, budget, reveal), the "
        "audit trail and the authorisation table; *full*: as served, rate limits on and an audit entry "
        "written per request (group commit).",
        "",
        "| engine | answer | bare req/s | full req/s | cost (target ≤ 15%) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for engine, r in results.items():
        for cache in (True, False):
            bare, full = r[("bare", cache)], r[("full", cache)]
            cost = f"{1 - full / bare:.0%}" if bare and full else "n/a"
            label = "from the cache" if cache else "computed"
            lines.append(f"| {engine} | {label} | {bare or 0:,.0f} | {full or 0:,.0f} | {cost} |")
    write_section(f"security-{scale}", "\n".join(lines))
    print("\n".join(lines))
