"""A caller limited to one county (its token's region) sees that county's subtree only, in every answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import oracle
from tests.auth import api_client

COUNTY = "410102000"  # 中原区


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    with api_client(demo_engine, body="audit", region=COUNTY) as c:
        yield c


def test_the_default_scope_is_the_callers_region(client: TestClient, warehouse: oracle.Warehouse) -> None:
    body = client.get("/v1/summary", params={"year": 2025}).json()
    assert body["scope"]["region"] == COUNTY
    assert (
        oracle.fen(body["total"]["measures"]["paid"]) == oracle.measures(warehouse, 2025, COUNTY, {})["paid"]
    )


def test_payments_and_breakdowns_stay_inside(client: TestClient, warehouse: oracle.Warehouse) -> None:
    inside = warehouse.subtree(COUNTY)
    rows, cursor = [], None
    while True:
        page = client.get(
            "/v1/payments", params={"year": 2025, "limit": 500, **({"cursor": cursor} if cursor else {})}
        ).json()
        rows += page["rows"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert rows and all(r["region"] in inside for r in rows)
    expected = [p for p in warehouse.payments if p["fiscal_year"] == 2025 and p["mof_div_code"] in inside]
    assert len(rows) == len(expected)
    body = client.get("/v1/drilldown", params={"year": 2025, "by": "payee", "limit": 500}).json()
    assert oracle.fen(body["total"]["paid"]) == sum(p["pay_amt_fen"] for p in expected)


def test_anything_outside_answers_like_nothing(client: TestClient, warehouse: oracle.Warehouse) -> None:
    outside_payment = next(p for p in warehouse.payments if p["mof_div_code"] == "410000000")
    province_only = next(
        i for i in warehouse.indicators if i["mof_div_code"] == "410000000" and i["agency_code"]
    )
    for url in (
        f"/v1/payments/{outside_payment['pay_cert_id']}",
        f"/v1/indicators/{province_only['bgt_id']}",
        f"/v1/indicators/{province_only['bgt_id']}/trace",
        "/v1/drilldown?by=agency&region=410000000",
        "/v1/summary?region=410100000",
        f"/v1/payees/{outside_payment['payee_key']}"
        if not any(
            p["payee_key"] == outside_payment["payee_key"] and p["mof_div_code"] in warehouse.subtree(COUNTY)
            for p in warehouse.payments
        )
        else "/v1/payees/nope",
    ):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
    found = client.get("/v1/payments", params={"q": outside_payment["use_des"][:6]}).json()["rows"]
    assert all(r["region"] in warehouse.subtree(COUNTY) for r in found)


def test_a_trace_stops_at_the_jurisdictions_border(client: TestClient, warehouse: oracle.Warehouse) -> None:
    """The city's transfer to the county is visible to the county; the province's transfer above it is not:
    it is neither in the upstream chain nor used for a lag."""
    received = next(
        i
        for i in warehouse.indicators
        if i["rec_div_code"] == COUNTY and i["mof_div_code"] == "410100000" and i["spe_fund_code"]
    )
    body = client.get(f"/v1/indicators/{received['bgt_id']}/trace").json()
    assert all(step["region"] in (None, *warehouse.subtree(COUNTY)) for step in body["upstream"])
    assert body["indicator"]["lag_days"] is None
    detail = client.get(f"/v1/indicators/{received['bgt_id']}").json()
    assert detail["parent_bgt_id"] is None and detail["lag_days"] is None
