"""Safe by construction: who may call what, what each caller sees, personal data, rate limits, read only.

On SQLite and PostgreSQL over the loaded small demo. The leak matrix prints its figures (run with ``-s``,
or see docs/security.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from api.graphql.schema import GraphQLSettings, make_schema
from schema.db import make_engine
from security.masking import mask_account, mask_id, mask_name
from security.permissions import OPERATIONS, allowed, is_public
from security.principal import Body
from security.ratelimit import RateLimits, RateLimitSettings
from tests import oracle
from tests.auth import api_client, audit_key, auth_settings, token

PROVINCE, CITY, COUNTY = "410000000", "410100000", "410102000"
READERS = [Body.congress, Body.audit, Body.discipline, Body.finance]
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
ACCOUNT = re.compile(r"(?<![0-9*])[0-9]{12,}(?![0-9])")


def app_operations() -> list[str]:
    """Every operation the application serves: REST routes (through included routers) and GraphQL root
    fields."""
    from api.contracts import contract_app

    app = contract_app()
    ops: list[str] = []

    def walk(routes: Any) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original.routes)
            elif isinstance(route, APIRoute) or hasattr(route, "methods"):
                for method in sorted(route.methods - {"HEAD"}):
                    ops.append(f"{method} {route.path}")

    walk(app.routes)
    schema = make_schema(GraphQLSettings())
    ops += [f"graphql:{name}" for name in schema._schema.query_type.fields]  # type: ignore[union-attr]
    ops += [f"graphql:{name}" for name in schema._schema.mutation_type.fields]  # type: ignore[union-attr]
    return ops


OPS = app_operations()


def test_every_operation_is_in_the_permission_table() -> None:
    missing = [op for op in OPS if op not in OPERATIONS]
    assert not missing, f"add these to security/permissions.py: {missing}"
    assert len(OPS) >= 40


@pytest.fixture(scope="module")
def clients(demo_engine: Engine) -> Iterator[dict[Body, TestClient]]:
    made = {body: api_client(demo_engine, body=body.value, region=PROVINCE) for body in Body}
    yield made
    for c in made.values():
        c.close()


# --- function-level authorisation --------------------------------------------------------------------

GRAPHQL_FIELDS = {
    "inquiries": "{ inquiries(first: 1) { totalCount } }",
    "inquiry": "{ inquiry(id: 1) { id } }",
    "raiseInquiry": 'mutation { raiseInquiry(input: {objectType: payment, objectId: "x", subject: "s", '
    'question: "q"}) { id } }',
    "answerInquiry": 'mutation { answerInquiry(id: 1, answer: "x") { id } }',
    "acceptInquiry": "mutation { acceptInquiry(id: 1) { id } }",
    "returnInquiry": 'mutation { returnInquiry(id: 1, comment: "x") { id } }',
    "summary": "{ summary { scope { year } } }",
    "drilldown": "{ drilldown(by: fund_type) { total { paid } } }",
    "regions": "{ regions(first: 1) { totalCount } }",
    "region": '{ region(code: "410000000") { code } }',
    "agencies": "{ agencies(first: 1) { totalCount } }",
    "agency": '{ agency(key: "410000000:101") { key } }',
    "projects": "{ projects(first: 1) { totalCount } }",
    "project": '{ project(key: "410000000:x") { key } }',
    "indicator": '{ indicator(bgtId: "x") { bgtId } }',
    "specialFunds": "{ specialFunds(first: 1) { totalCount } }",
    "specialFund": '{ specialFund(code: "x") { code } }',
    "payments": "{ payments(first: 1) { edges { cursor } } }",
    "payment": '{ payment(payCertId: "x") { payCertId } }',
    "payees": "{ payees(first: 1) { edges { cursor } } }",
    "payee": '{ payee(payeeId: "x") { payeeId } }',
    "sources": "{ sources { source } }",
    "rules": "{ rules { code } }",
    "rule": '{ rule(code: "USE-01") { code } }',
    "warnings": "{ warnings(first: 1) { totalCount } }",
    "warning": "{ warning(id: 1) { id } }",
    "warningStats": "{ warningStats(by: rule) { total { count } } }",
    "warningEscalations": "{ warningEscalations { month } }",
    "transitionWarning": 'mutation { transitionWarning(id: 1, action: verify, comment: "x") { id } }',
    "__typename": "{ __typename }",
}


def _call(client: TestClient, op: str) -> int:
    """The status of calling ``op``: HTTP status for REST, 403 for a GraphQL field refused."""
    if op.startswith("graphql:"):
        r = client.post("/graphql", json={"query": GRAPHQL_FIELDS[op.removeprefix("graphql:")]})
        if r.status_code != 200:
            return r.status_code
        errors = r.json().get("errors") or []
        return 403 if any((e.get("extensions") or {}).get("code") == "FORBIDDEN" for e in errors) else 200
    method, path = op.split(" ", 1)
    path = re.sub(r"\{scheme\}", "exp_func", path)
    path = re.sub(r"\{[a-z_]+\}", "x", path)
    if method == "POST":
        return client.post(path, json={"query": "{ __typename }"}).status_code
    return client.get(path).status_code


def test_each_body_reaches_exactly_the_operations_the_table_opens(clients: dict[Body, TestClient]) -> None:
    checked = 0
    for op in OPS:
        for body, client in clients.items():
            status = _call(client, op)
            assert status != 500, (op, body)
            if allowed(op, body):
                assert status not in (401, 403), (op, body, status)
            else:
                assert status == 403, (op, body, status)
            checked += 1
    print(
        f"\nauthorisation: {len(OPS)} operations × {len(clients)} bodies = {checked} calls, as the table says"
    )


def test_without_a_token_only_public_operations_answer(demo_engine: Engine) -> None:
    with api_client(demo_engine, body=None) as anonymous:
        for op in OPS:
            if op.startswith("graphql:"):
                continue
            status = _call(anonymous, op)
            if is_public(*op.split(" ", 1)):
                assert status not in (401, 403), op
            else:
                assert status == 401, op
        r = anonymous.get("/v1/summary")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        bad = anonymous.get("/v1/summary", headers={"Authorization": "Bearer not.a.token"})
        assert bad.status_code == 401 and "invalid token" in bad.json()["detail"]


# --- the leak matrix ----------------------------------------------------------------------------------


def _pages(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        rows += body["rows"]
        cursor = body.get("next_cursor")
        if not cursor:
            return rows


@pytest.mark.parametrize("region", [PROVINCE, CITY, COUNTY])
def test_leak_matrix(demo_engine: Engine, warehouse: oracle.Warehouse, region: str) -> None:
    """Every reading body, limited to ``region``: lists, aggregates, traces, searches and single objects
    hold nothing outside its subtree, and its totals are exactly its subtree's."""
    inside = warehouse.subtree(region)
    year = 2025
    outside = [p for p in warehouse.payments if p["mof_div_code"] not in inside]
    expected_payments = [
        p for p in warehouse.payments if p["fiscal_year"] == year and p["mof_div_code"] in inside
    ]
    leaks = 0
    checks = 0
    for body in READERS:
        with api_client(demo_engine, body=body.value, region=region) as c:
            summary = c.get("/v1/summary", params={"year": year}).json()
            assert summary["scope"]["region"] == region
            assert (
                oracle.fen(summary["total"]["measures"]["paid"])
                == oracle.measures(warehouse, year, region, {})["paid"]
            )
            payments = _pages(c, "/v1/payments", year=year)
            leaks += sum(p["region"] not in inside for p in payments)
            assert len(payments) == len(expected_payments)
            by_region = c.get("/v1/drilldown", params={"year": year, "by": "region", "limit": 500}).json()
            leaks += sum(r["key"] not in inside for r in by_region["rows"])
            regions = _pages(c, "/v1/regions")
            leaks += sum(r["code"] not in inside for r in regions)
            leaks += sum(a["region"] not in inside for a in _pages(c, "/v1/agencies"))
            leaks += sum(p["region"] not in inside for p in _pages(c, "/v1/projects"))
            searched = _pages(c, "/v1/payments", q="公司", year=year)
            leaks += sum(p["region"] not in inside for p in searched)
            for payee in _pages(c, "/v1/payees")[:50]:
                mine = [
                    p
                    for p in warehouse.payments
                    if p["payee_key"] == payee["payee_id"] and p["mof_div_code"] in inside
                ]
                leaks += oracle.fen(payee["voucher_amount"]) != sum(p["pay_amt_fen"] for p in mine)
            if outside:
                foreign = outside[0]
                assert c.get(f"/v1/payments/{foreign['pay_cert_id']}").status_code == 404
                query = "query($id: String!) { payment(payCertId: $id) { payCertId } }"
                g = c.post("/graphql", json={"query": query, "variables": {"id": foreign["pay_cert_id"]}})
                assert g.json()["data"]["payment"] is None
                leaks += foreign["pay_cert_id"] in g.text
            query = (
                "query($y: Int) { payments(first: 500, filter: {year: $y}) "
                "{ totalCount edges { node { region } } } }"
            )
            g = c.post("/graphql", json={"query": query, "variables": {"y": year}}).json()["data"]["payments"]
            leaks += sum(e["node"]["region"] not in inside for e in g["edges"])
            assert g["totalCount"] == len(expected_payments)
            checks += 1
    print(f"\nleak matrix {region}: {checks} bodies × 12 questions, {leaks} out-of-scope records or amounts")
    assert leaks == 0


# --- personal data ------------------------------------------------------------------------------------


@given(
    st.text(min_size=1, max_size=12),
    st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True),
    st.from_regex(r"[0-9]{10,19}", fullmatch=True),
)
def test_masking_keeps_only_what_semantics_allows(name: str, iden: str, account: str) -> None:
    masked = mask_name(name)
    assert (
        masked is not None and masked[0] == name[0] and set(masked[1:]) <= {"*"} and len(masked) == len(name)
    )
    shown = mask_id(iden)
    assert (
        shown is not None and shown[:3] == iden[:3] and shown[-4:] == iden[-4:] and set(shown[3:-4]) == {"*"}
    )
    acc = mask_account(account)
    assert (
        acc is not None and acc[-4:] == account[-4:] and set(acc[:-4]) == {"*"} and len(acc) == len(account)
    )
    assert not ID_NUMBER.search(shown) and not ACCOUNT.search(acc)


def _person_payments(warehouse: oracle.Warehouse) -> list[dict[str, Any]]:
    return [p for p in warehouse.payments if p.get("iden_no")]


def test_no_clearance_no_reason_no_personal_data(demo_engine: Engine, warehouse: oracle.Warehouse) -> None:
    persons = _person_payments(warehouse)
    assert persons, "the demo has payments to persons"
    ids = {p["iden_no"] for p in persons}
    paths = ["/v1/payments?limit=500", "/v1/payees?limit=500"] + [
        f"/v1/payments/{p['pay_cert_id']}" for p in persons[:20]
    ]
    for pii, reason in ((False, None), (False, "checking a subsidy list"), (True, None)):
        with api_client(demo_engine, body="audit", pii=pii) as c:
            headers = {"X-Reveal-Reason": reason} if reason else {}
            for path in paths:
                r = c.get(path, headers=headers)
                assert r.status_code == 200
                found = set(ID_NUMBER.findall(r.text))
                assert not (found & ids), (pii, reason, path)
    with api_client(demo_engine, body="audit", pii=True) as c:
        r = c.get(
            f"/v1/payments/{persons[0]['pay_cert_id']}", headers={"X-Reveal-Reason": "subsidy case 2025-17"}
        )
        assert persons[0]["iden_no"] in r.text
        assert c.get("/v1/payments", headers={"X-Reveal-Reason": "x"}).status_code == 400  # a reason says why


def test_reveals_are_limited_by_a_quota(demo_engine: Engine) -> None:
    limits = RateLimits(RateLimitSettings(reveal_quota="3/day"))
    with api_client(demo_engine, body="audit", pii=True, limits=limits) as c:
        codes = [
            c.get("/v1/regions", headers={"X-Reveal-Reason": "case 2025-17"}).status_code for _ in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        assert c.get("/v1/regions").status_code == 200  # masked answers go on


# --- rate limits --------------------------------------------------------------------------------------


def test_every_operation_reaches_429(demo_engine: Engine) -> None:
    for op in OPS:
        limits = RateLimits(RateLimitSettings(congress="3/minute", admin="3/minute", anonymous="3/minute"))
        body = "admin" if op in ("GET /v1/sources", "graphql:sources") else "congress"
        with api_client(demo_engine, body=body, limits=limits) as c:
            codes = [_call(c, op) for _ in range(4)]
            assert codes[-1] == 429 and 429 not in codes[:3], (op, codes)


def test_429_says_when_to_retry(demo_engine: Engine) -> None:
    limits = RateLimits(RateLimitSettings(congress="2/minute"))
    with api_client(demo_engine, limits=limits) as c:
        first = c.get("/v1/regions")
        assert first.headers["ratelimit-limit"] == "2" and first.headers["ratelimit-remaining"] == "1"
        c.get("/v1/regions")
        refused = c.get("/v1/regions")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0


def test_graphql_is_charged_by_cost(demo_engine: Engine) -> None:
    limits = RateLimits(RateLimitSettings(congress="10/minute", graphql_cost_unit=100))
    with api_client(demo_engine, limits=limits) as c:
        costly = "{ regions(first: 100) { edges { node { code name level } } } }"  # about 400
        body = c.post("/graphql", json={"query": costly}).json()
        assert "errors" not in body
        assert int(c.get("/v1/regions").headers["ratelimit-remaining"]) <= 10 - 1 - 4 - 1


def test_limits_by_principal_not_address(demo_engine: Engine) -> None:
    limits = RateLimits(RateLimitSettings(congress="2/minute"))
    with api_client(demo_engine, limits=limits) as a, api_client(demo_engine, limits=limits) as b:
        b.headers["Authorization"] = f"Bearer {token('congress', sub='someone-else')}"
        assert [a.get("/v1/regions").status_code for _ in range(3)] == [200, 200, 429]
        assert b.get("/v1/regions").status_code == 200


# --- read only ----------------------------------------------------------------------------------------


def test_the_api_engine_cannot_write(demo_engine: Engine) -> None:
    reader = make_engine(demo_engine.url.render_as_string(hide_password=False), read_only=True)
    try:
        with pytest.raises(DBAPIError), reader.begin() as conn:
            conn.execute(text("DELETE FROM pay_voucher"))
    finally:
        reader.dispose()
    assert auth_settings().keys_dir.exists()


def _serve(url: str, port: int, env: dict[str, str]) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env={**os.environ, **env, "OVERSIGHT_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_two_processes_share_one_budget_through_redis(demo_engine: Engine) -> None:
    import socket
    import time

    import httpx
    import redis

    from tests.conftest import service_unavailable

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable("Redis (127.0.0.1:6379)", exc)
    namespace = "redis://127.0.0.1:6379/0"
    RateLimits(RateLimitSettings(storage=namespace)).reset()
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    settings = auth_settings()
    env = {
        "OVERSIGHT_RATELIMIT_STORAGE": namespace,
        "OVERSIGHT_RATELIMIT_CONGRESS": "7/minute",
        "OVERSIGHT_AUTH_KEYS_DIR": str(settings.keys_dir),
        "OVERSIGHT_AUTH_JWKS_FILE": str(settings.jwks_file),
        "OVERSIGHT_RESPONSE_CACHE_ENTRIES": "0",
        "OVERSIGHT_AUDIT_SIGNING_KEY": str(settings.keys_dir / "audit-ed25519.pem"),
        "OVERSIGHT_AUDIT_CHECKPOINT_DIR": str(settings.keys_dir / "checkpoints-served"),
    }
    audit_key()  # made once per test process
    url = demo_engine.url.render_as_string(hide_password=False)
    procs = [_serve(url, port, env) for port in ports]
    try:
        headers = {"Authorization": f"Bearer {token('congress', sub='shared-budget')}"}
        for port in ports:
            for _ in range(300):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        codes = [
            httpx.get(f"http://127.0.0.1:{ports[i % 2]}/v1/regions", headers=headers, timeout=10).status_code
            for i in range(10)
        ]
        assert codes.count(200) == 7 and codes.count(429) == 3, codes
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
