"""Oversight queries on a loaded province: p95 latency per kind of question, throughput under 32
connections against the same server's ``/healthz``, and Datasette on the same SQLite file.

Targets (issue 3, `province` scale, warm): p95 ≤ 50 ms for summary and drill-down at any level, ≤ 100 ms
for trace and keyword search, on SQLite and on PostgreSQL; drill-down throughput at 32 connections
≥ 50% of ``/healthz``.

The warehouses are ``bench/out/queries-<scale>.db`` and the PostgreSQL database
``oversight_bench_queries_<scale>``, loaded from the generated batch the first time and kept. Latency is
measured through HTTP against ``oversight serve`` (one worker, so the figures are per request, not shared
across cores); throughput with wrk (Debian package ``wrk``) against two workers.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import OUT, ROOT, auth_env, auth_header, write_section
from bench.load import PG_URL, ensure_batch, fresh_pg, load_into
from schema.db import make_engine
from schema.migrate import upgrade

TARGETS = {"summary": 50, "drilldown": 50, "trace": 100, "search": 100}


def _has_rollups(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM scope_rollup")).scalar_one() > 0
    except Exception:  # noqa: BLE001 - a missing database or table means "load it"
        return False
    finally:
        engine.dispose()


def ensure_loaded(scale: str, seed: int) -> dict[str, str]:
    batch, _ = ensure_batch(scale, seed)
    sqlite_url = f"sqlite:///{OUT / f'queries-{scale}.db'}"
    name = f"oversight_bench_queries_{scale}"
    pg_url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    if not _has_rollups(sqlite_url):
        load_into(sqlite_url, batch)
    if not _has_rollups(pg_url):
        load_into(fresh_pg(name), batch)
    for url in (sqlite_url, pg_url):  # a warehouse kept from an earlier run gets the newer migrations
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    return {"SQLite": sqlite_url, "PostgreSQL": pg_url}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    url: str,
    workers: int = 1,
    command: list[str] | None = None,
    cache: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    port = _free_port()
    args = command or [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", str(workers)]
    args = [a.replace("{port}", str(port)) for a in args]
    proc = subprocess.Popen(
        args,
        env={
            **os.environ,
            "OVERSIGHT_DATABASE_URL": url,
            "OVERSIGHT_RESPONSE_CACHE_ENTRIES": "2048" if cache else "0",
            **auth_env(),
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + ("/healthz" if command is None else "/"), timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"server on {url} did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # workers still draining wrk's keep-alive connections
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the questions ------------------------------------------------------------------------------------


def questions(client: httpx.Client, year: int, rnd: random.Random) -> dict[str, list[str]]:
    """URLs of each kind, drawn from the data itself (the regions, keys and indicators it holds)."""

    def children(region: str | None) -> list[str]:
        """Regions below ``region`` that hold data, busiest first."""
        params: dict[str, Any] = {"year": year, "by": "region", "sort": "-paid", "limit": 500}
        if region:
            params["region"] = region
        rows = client.get("/v1/drilldown", params=params).json()["rows"]
        return [r["key"] for r in rows if not r["own_level"] and r["measures"]["paid"] != "0.00"]

    province = client.get("/v1/summary", params={"year": year}).json()["scope"]["region"]
    cities = children(province)
    counties = [c for city in rnd.sample(cities, min(4, len(cities))) for c in children(city)]
    scopes = (
        [province] + rnd.sample(cities, min(5, len(cities))) + rnd.sample(counties, min(5, len(counties)))
    )

    def drill(**params: Any) -> str:
        return "/v1/drilldown?" + urlencode({"year": year, **params})

    out: dict[str, list[str]] = {"summary": [], "drilldown": [], "trace": [], "search": []}
    for region in scopes:
        out["summary"].append("/v1/summary?" + urlencode({"year": year, "region": region}))
        for by in ("region", "fund_type", "spe_fund", "month"):
            out["drilldown"].append(drill(region=region, by=by))
        out["drilldown"].append(drill(region=region, by="exp_func", level=rnd.randint(1, 3)))
        out["drilldown"].append(drill(region=region, by="department", own_level="true", sort="-paid"))
        departments = client.get(drill(region=region, by="department", own_level="true", limit=20)).json()[
            "rows"
        ]
        if departments:
            dept = rnd.choice(departments)["key"]
            out["drilldown"].append(drill(region=region, department=dept, by="agency", sort="-paid"))
            agencies = client.get(drill(region=region, department=dept, by="agency")).json()["rows"]
            if agencies:
                agency = rnd.choice(agencies)["key"]
                out["drilldown"].append(drill(region=region, agency=agency, by="project"))
                out["drilldown"].append(drill(region=region, agency=agency, by="indicator"))
                out["drilldown"].append(drill(region=region, agency=agency, by="payee", sort="-paid"))
    funds = [f["code"] for f in client.get("/v1/special-funds", params={"limit": 100}).json()["rows"]]
    for fund in rnd.sample(funds, min(5, len(funds))):
        rows = client.get(drill(region=province, spe_fund=fund, by="indicator", limit=500)).json()["rows"]
        for row in rnd.sample(rows, min(4, len(rows))):
            out["trace"].append(f"/v1/indicators/{row['key']}/trace")
    sample = client.get(
        "/v1/payments", params={"year": year, "region": rnd.choice(counties), "limit": 200}
    ).json()
    for p in rnd.sample(sample["rows"], min(12, len(sample["rows"]))):
        words = [p["use_des"][:4], p["payee"]["name"][:3], (p["pro_name"] or p["use_des"])[-4:]]
        out["search"].append("/v1/payments?" + urlencode({"q": rnd.choice(words), "year": year}))
    for region in rnd.sample(counties, min(4, len(counties))):  # 1-2 character keywords, with a scope
        out["search"].append("/v1/payments?" + urlencode({"q": "费", "year": year, "region": region}))
        out["search"].append("/v1/payments?" + urlencode({"q": "办公", "region": region}))
    return out


def latencies(client: httpx.Client, urls: list[str], rounds: int = 3) -> list[float]:
    for url in urls:  # warm: every question once, untimed
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    times = []
    for _ in range(rounds):
        for url in urls:
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def wrk(url: str, seconds: int = 10, connections: int = 32) -> float | None:
    """Requests per second that wrk reaches on one URL (None when wrk is not installed)."""
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
        + [arg for name, value in auth_header().items() for arg in ("-H", f"{name}: {value}")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(f"wrk {url}\n{out}", flush=True)
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split(":")[1])
    return None


def datasette_rate(sqlite_path: Path, year: int) -> tuple[float | None, str]:
    """Throughput of Datasette answering "paid by department for a year" with SQL on the same file."""
    venv = OUT / "datasette-venv"
    if not (venv / "bin" / "datasette").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "datasette"], check=True)
    sql = (
        "SELECT a.dept_code, sum(p.pay_amt_fen) FROM pay_voucher p JOIN agency a "
        "ON a.mof_div_code = p.mof_div_code AND a.agency_code = p.agency_code "
        f"WHERE p.fiscal_year = {year} AND NOT p.is_deleted GROUP BY p.mof_div_code, a.dept_code"
    )
    command = [
        str(venv / "bin" / "datasette"),
        "serve",
        "-i",
        str(sqlite_path),
        "--port",
        "{port}",
        "--setting",
        "sql_time_limit_ms",
        "120000",
        "--setting",
        "num_sql_threads",
        "4",
    ]
    with server("", command=command) as base:
        url = f"{base}/{sqlite_path.stem}.json?" + urlencode({"sql": sql, "_shape": "array"})
        httpx.get(url, timeout=300)
        return wrk(url, seconds=20), sql


def main(scale: str, seed: int) -> None:
    urls = ensure_loaded(scale, seed)
    year = 2025
    rnd = random.Random(seed)
    results: dict[str, dict[str, Any]] = {}
    question_set: dict[str, list[str]] | None = None
    for engine, url in urls.items():
        # latency of the work itself: the answer cache is off
        with (
            server(url, workers=1, cache=False) as base,
            httpx.Client(base_url=base, timeout=120, headers=auth_header()) as client,
        ):
            question_set = question_set or questions(client, year, rnd)
            results[engine] = {kind: latencies(client, qs) for kind, qs in question_set.items()}
        province = question_set["summary"][0].split("region=")[1]
        drill = "/v1/drilldown?" + urlencode(
            {"year": year, "region": province, "by": "department", "sort": "-paid"}
        )
        with server(url, workers=2) as base:
            results[engine]["healthz_rps"] = wrk(base + "/healthz")
            results[engine]["drill_rps"] = wrk(base + drill)
        with server(url, workers=2, cache=False) as base:
            results[engine]["drill_uncached_rps"] = wrk(base + drill)
    sqlite_file = Path(make_url(urls["SQLite"]).database or "")
    datasette_rps, sql = datasette_rate(sqlite_file, year)
    assert question_set is not None
    lines = [
        f"## Queries (`python -m bench.run queries --scale {scale}`)",
        "",
        f"`{scale}` scale, seed {seed}, fiscal year {year}, warm; latency through HTTP against one "
        "`oversight serve` worker, each question asked 3 times after one untimed round. Questions are drawn "
        "from the data: summaries and drill-downs of the province, 5 cities and 5 counties (by region, fund "
        "type, special fund, month, classification, department; then a department's units, a unit's "
        "projects, indicators and payees), traces of special-fund indicators, keyword searches of 3+ "
        "characters over the year and of 1-2 characters within a county.",
        "",
        "| engine | question | asked | p50 ms | p95 ms | max ms | target p95 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, r in results.items():
        for kind in ("summary", "drilldown", "trace", "search"):
            times = r[kind]
            lines.append(
                f"| {engine} | {kind} | {len(question_set[kind])} | {statistics.median(times):.1f} | "
                f"{p95(times):.1f} | {max(times):.1f} | ≤ {TARGETS[kind]} |"
            )
    lines += [
        "",
        "Throughput at 32 connections (wrk, 10 s, two `oversight serve` workers; the drill-down is the "
        "province's departments by paid, the same URL each time, so with the answer cache on it is served "
        "from the cache after the first request; without it, computed each time):",
        "",
        "| engine | /healthz req/s | drill-down req/s (cache) | ratio (target ≥ 50%) "
        "| drill-down req/s (no cache) | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, r in results.items():
        h, d, u = r["healthz_rps"], r["drill_rps"], r["drill_uncached_rps"]
        ratio = f"{d / h:.0%}" if h and d else "n/a"
        ratio_u = f"{u / h:.0%}" if h and u else "n/a"
        lines.append(f"| {engine} | {h or 0:,.0f} | {d or 0:,.0f} | {ratio} | {u or 0:,.0f} | {ratio_u} |")
    ours = results["SQLite"]["drill_rps"]
    if datasette_rps and ours:
        lines += [
            "",
            f"Datasette on the same SQLite file (immutable, `sql_time_limit_ms` 120000), answering paid by "
            f"department for {year} with `{sql}`: {datasette_rps:,.2f} req/s at 32 connections; the "
            f"drill-down above answers the same question at {ours:,.0f} req/s with the cache "
            f"({ours / datasette_rps:,.0f}×) and {results['SQLite']['drill_uncached_rps'] or 0:,.0f} req/s "
            "without it.",
        ]
    write_section(f"queries-{scale}", "\n".join(lines))
    print("\n".join(lines))
