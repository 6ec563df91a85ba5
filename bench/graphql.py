"""A typical GraphQL portal query on a loaded province: p95 latency and the SQL statements it costs.

The query (issue 4): a region → its departments (top 10 by paid) → each one's top 5 units → their totals
and last 3 payments. Target: p95 ≤ 100 ms at `province` scale, warm, on SQLite and on PostgreSQL.

It runs over the warehouses of the query benchmark (``bench/queries.py``: ``bench/out/queries-<scale>.db``
and the PostgreSQL database ``oversight_bench_queries_<scale>``), loading them the first time. Latency is
measured through HTTP against one ``oversight serve`` worker with the answer cache off (GraphQL is a POST:
the cache never holds it anyway); statements are counted in-process with a SQLAlchemy event listener.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event

from bench.common import KEYS, auth_header, write_section
from bench.queries import ensure_loaded, p95, server

TARGET_MS = 100
PORTAL = """
query Portal($region: String!, $year: Int!) {
  region(code: $region, year: $year) {
    code name
    totals { budget paid executionRate }
    departments(first: 10, sort: "-paid") {
      totalCount
      edges { node { key name totals { budget paid }
        agencies(first: 5, sort: "-paid") { edges { node { key name
          totals { budget paid executionRate payments }
          payments(first: 3) { edges { node { payCertId vouDate amount useDes payee { name } } } }
        } } }
      } }
    }
  }
}
"""


def regions(client: httpx.Client, rnd: random.Random) -> list[str]:
    province = client.get("/v1/summary").json()["scope"]["region"]
    cities = [
        r["code"] for r in client.get("/v1/regions", params={"parent": province, "limit": 500}).json()["rows"]
    ]
    counties = []
    for city in rnd.sample(cities, min(3, len(cities))):
        rows = client.get("/v1/regions", params={"parent": city, "limit": 500}).json()["rows"]
        counties += [r["code"] for r in rows]
    return [province] + rnd.sample(cities, min(5, len(cities))) + rnd.sample(counties, min(5, len(counties)))


def _post(client: httpx.Client, region: str, year: int) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": PORTAL, "variables": {"region": region, "year": year}})
    body: dict[str, Any] = r.json()
    assert r.status_code == 200 and not body.get("errors"), (region, r.status_code, r.text[:500])
    return body


def statements(url: str, region: str, year: int) -> int:
    """SQL statements one portal query issues (BEGIN and SET LOCAL aside)."""
    from api.app import create_app

    engine = create_engine(url)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        audit = "audit_" in statement or "pg_advisory" in statement
        if not statement.lstrip().upper().startswith(("BEGIN", "SET ")) and not audit:
            seen.append(statement)

    try:
        from security.audit import AuditSettings, AuditWriter
        from security.ratelimit import RateLimits, RateLimitSettings
        from security.tokens import AuthSettings, TokenVerifier

        verifier = TokenVerifier(AuthSettings(keys_dir=KEYS, jwks_file=KEYS / "jwks.json"))
        audit = AuditWriter(engine, settings=AuditSettings(signing_key=KEYS / "audit-ed25519.pem"))
        limits = RateLimits(RateLimitSettings(enabled=False))
        app = create_app(engine, verifier=verifier, limits=limits, audit=audit)
        with TestClient(app, headers=auth_header()) as client:
            client.post("/graphql", json={"query": PORTAL, "variables": {"region": region, "year": year}})
            event.listen(engine, "before_cursor_execute", count)
            client.post("/graphql", json={"query": PORTAL, "variables": {"region": region, "year": year}})
    finally:
        engine.dispose()
    return len(seen)


def main(scale: str, seed: int) -> None:
    urls = ensure_loaded(scale, seed)
    year = 2025
    rnd = random.Random(seed)
    asked: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    for engine, url in urls.items():
        with (
            server(url, workers=1, cache=False) as base,
            httpx.Client(base_url=base, timeout=120, headers=auth_header()) as client,
        ):
            asked = asked or regions(client, rnd)
            for region in asked:  # warm, untimed
                _post(client, region, year)
            times: list[float] = []
            per_region: dict[str, list[float]] = {}
            for _ in range(5):
                for region in asked:
                    started = time.perf_counter()
                    _post(client, region, year)
                    ms = (time.perf_counter() - started) * 1000
                    times.append(ms)
                    per_region.setdefault(region, []).append(ms)
        counts = {region: statements(url, region, year) for region in asked}
        results[engine] = {"times": times, "per_region": per_region, "counts": counts}
    lines = [
        f"## GraphQL portal query (`python -m bench.run graphql --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}, fiscal year {year}, warm; one `oversight serve` worker, answer cache "
        f"off. The query: a region → its top 10 departments by paid → each one's top 5 units → their totals "
        f"and last 3 payments (with payee), {len(asked)} regions (the province, 5 cities, 5 counties), each "
        "asked 5 times after one untimed round.",
        "",
        "| engine | asked | p50 ms | p95 ms | max ms | target p95 | SQL statements per query |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, r in results.items():
        times, counts = r["times"], sorted(set(r["counts"].values()))
        lines.append(
            f"| {engine} | {len(times)} | {statistics.median(times):.1f} | {p95(times):.1f} | "
            f"{max(times):.1f} | ≤ {TARGET_MS} | {', '.join(map(str, counts))} |"
        )
    lines += ["", "Slowest region per engine (median of its 5 runs):", ""]
    for engine, r in results.items():
        worst = max(r["per_region"].items(), key=lambda kv: statistics.median(kv[1]))
        lines.append(f"- {engine}: `{worst[0]}`, {statistics.median(worst[1]):.1f} ms")
    write_section(f"graphql-{scale}", "\n".join(lines))
    print("\n".join(lines))
