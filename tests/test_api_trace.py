"""Indicators, traces, special funds and payees over the demo province, checked against the raw tables."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import oracle


def nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield tree
    for child in tree["children"]:
        yield from nodes(child)


def roots_to_trace(w: oracle.Warehouse, n: int) -> list[dict[str, Any]]:
    """Province transfer indicators of special funds (deep trees) and a few random others."""
    deep = [
        i
        for i in w.indicators
        if i["mof_div_code"] == "410000000" and i["rec_div_code"] and i["spe_fund_code"]
    ]
    rnd = random.Random(3)
    return rnd.sample(deep, min(n, len(deep))) + rnd.sample(w.indicators, n)


def test_a_trace_accounts_for_every_fen_of_its_root(client: TestClient, warehouse: oracle.Warehouse) -> None:
    paid_by_indicator: dict[str, int] = defaultdict(int)
    for p in warehouse.payments:
        if p["bgt_id"]:
            paid_by_indicator[p["bgt_id"]] += p["pay_amt_fen"]
    current = {i["bgt_id"]: i["current"] for i in warehouse.indicators}
    deep = 0
    for root in roots_to_trace(warehouse, 6):
        body = client.get(f"/v1/indicators/{root['bgt_id']}/trace", params={"limit": 5}).json()
        tree = body["downstream"]
        all_nodes = list(nodes(tree))
        deep = max(deep, len(all_nodes))
        leaves = sum(
            oracle.fen(n["amount"]) for n in all_nodes if not n["children"] and n["kind"] == "assigned"
        )
        undistributed = sum(oracle.fen(n["undistributed"]) for n in all_nodes)
        assert leaves + undistributed == oracle.fen(tree["amount"]) == root["current"]
        assert oracle.fen(body["totals"]["assigned_leaves"]) == leaves
        assert oracle.fen(body["totals"]["undistributed"]) == undistributed
        for n in all_nodes:
            assert oracle.fen(n["amount"]) == current[n["bgt_id"]]
            assert oracle.fen(n["paid"]) == paid_by_indicator[n["bgt_id"]]
            for child in n["children"]:
                assert child["lag_days"] == (_day(child["doc_date"]) - _day(n["doc_date"])).days
        paid = sum(paid_by_indicator[n["bgt_id"]] for n in all_nodes)
        assert oracle.fen(body["totals"]["paid"]) == paid
        # the payments of the trace, page by page, are exactly those against its nodes
        ids = {n["bgt_id"] for n in all_nodes}
        expected = sorted(p["pay_cert_id"] for p in warehouse.payments if p["bgt_id"] in ids)
        got, cursor = [], None
        while True:
            page = client.get(
                f"/v1/indicators/{root['bgt_id']}/trace",
                params={"limit": 500, **({"cursor": cursor} if cursor else {})},
            ).json()["payments"]
            got += [r["pay_cert_id"] for r in page["rows"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert got == expected
    assert deep > 10  # at least one trace went down several levels


def _day(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def test_upstream_leads_from_the_origin_to_the_parent(
    client: TestClient, warehouse: oracle.Warehouse
) -> None:
    township = next(  # a special fund's indicator assigned to a unit of a township (9 digits, not 000)
        i
        for i in warehouse.indicators
        if i["agency_code"] and i["spe_fund_code"] and not i["mof_div_code"].endswith("000")
    )
    body = client.get(f"/v1/indicators/{township['bgt_id']}/trace").json()
    steps = body["upstream"]
    assert steps, "a township's indicator has an upstream chain"
    regions = [s["region"] for s in steps if s["region"]]
    # each step is issued by an ancestor of the next one's region
    chain = regions + [township["mof_div_code"]]
    for upper, lower in zip(chain, chain[1:], strict=False):
        assert upper in _ancestors(warehouse, lower)
    detail = client.get(f"/v1/indicators/{township['bgt_id']}").json()
    if steps[-1]["bgt_id"]:
        assert detail["parent_bgt_id"] == steps[-1]["bgt_id"]


def _ancestors(w: oracle.Warehouse, code: str) -> set[str]:
    out, node = set(), w.parent.get(code)
    while node:
        out.add(node)
        node = w.parent.get(node)
    return out


def test_indicator_detail_adds_its_adjustments(client: TestClient, warehouse: oracle.Warehouse) -> None:
    adjusted = next(i for i in warehouse.indicators if i["current"] != i["amount_fen"])
    body = client.get(f"/v1/indicators/{adjusted['bgt_id']}").json()
    assert oracle.fen(body["original_amount"]) + sum(
        oracle.fen(a["amount"]) for a in body["adjustments"]
    ) == (oracle.fen(body["amount"]))
    assert oracle.fen(body["amount"]) == adjusted["current"]
    assert sum(oracle.fen(p["amount"]) for p in body["plan"]) == adjusted["plan"]


def test_unknown_indicator_is_not_found(client: TestClient) -> None:
    for url in ("/v1/indicators/NOPE", "/v1/indicators/NOPE/trace"):
        assert client.get(url).status_code == 404


def test_special_fund_flow_matches_the_indicators(client: TestClient, warehouse: oracle.Warehouse) -> None:
    funds = client.get("/v1/special-funds").json()["rows"]
    assert funds
    code = funds[0]["code"]
    year = 2025
    rows, cursor = [], None
    while True:
        body = client.get(
            f"/v1/special-funds/{code}/flow",
            params={"year": year, "limit": 50, **({"cursor": cursor} if cursor else {})},
        ).json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    of_fund = [i for i in warehouse.indicators if i["spe_fund_code"] == code and i["fiscal_year"] == year]
    received: dict[str, int] = defaultdict(int)
    passed: dict[str, int] = defaultdict(int)
    assigned: dict[str, int] = defaultdict(int)
    for i in of_fund:
        if i["agency_code"]:
            assigned[i["mof_div_code"]] += i["current"]
        elif i["rec_div_code"]:
            passed[i["mof_div_code"]] += i["current"]
            received[i["rec_div_code"]] += i["current"]
    ids = {i["bgt_id"] for i in of_fund}
    paid: dict[str, int] = defaultdict(int)
    for p in warehouse.payments:
        if p["bgt_id"] in ids:
            paid[p["mof_div_code"]] += p["pay_amt_fen"]
    by_region = {r["region"]: r for r in rows}
    assert set(by_region) >= set(received) | set(passed) | set(assigned)
    for code_, r in by_region.items():
        assert oracle.fen(r["received"]) == received[code_]
        assert oracle.fen(r["passed_on"]) == passed[code_]
        assert oracle.fen(r["assigned"]) == assigned[code_]
        assert oracle.fen(r["paid"]) == paid[code_]
        if received[code_]:
            assert oracle.fen(r["undistributed"]) == received[code_] - passed[code_] - assigned[code_]
    levels = {lv["level"]: lv for lv in body["levels"]}
    assert sum(oracle.fen(lv["paid"]) for lv in levels.values()) == sum(paid.values())
    assert client.get(f"/v1/special-funds/{code}").json()["years"]


def test_a_payee_received_what_the_vouchers_and_details_say(
    client: TestClient, warehouse: oracle.Warehouse, demo_engine: Engine
) -> None:
    from sqlalchemy import text

    counts: dict[str, int] = defaultdict(int)
    for p in warehouse.payments:
        counts[p["payee_key"]] += 1
    busiest = max(counts, key=lambda k: counts[k])
    body = client.get(f"/v1/payees/{busiest}").json()
    mine = [p for p in warehouse.payments if p["payee_key"] == busiest]
    assert body["vouchers"] == len(mine)
    assert oracle.fen(body["voucher_amount"]) == sum(p["pay_amt_fen"] for p in mine)
    assert sum(y["vouchers"] for y in body["by_year"]) == len(mine)
    assert sum(oracle.fen(r["voucher_amount"]) for r in body["by_region"]) == sum(
        p["pay_amt_fen"] for p in mine
    )
    assert sum(oracle.fen(u["voucher_amount"]) for u in body["by_agency"]) == sum(
        p["pay_amt_fen"] for p in mine
    )
    # a person paid through 一卡通 details
    with demo_engine.connect() as conn:
        key, n, fen = conn.execute(
            text(
                "SELECT d.payee_key, count(*), sum(d.pay_amt_fen) FROM pay_detail d "
                "JOIN pay_voucher v ON v.pay_cert_id = d.pay_cert_id AND NOT v.is_deleted "
                "WHERE NOT d.is_deleted AND d.iden_no IS NOT NULL "
                "GROUP BY d.payee_key ORDER BY 2 DESC, 1 LIMIT 1"
            )
        ).one()
    person = client.get(f"/v1/payees/{key}").json()
    assert person["is_person"] and "*" in person["name"]
    assert person["details"] == n and oracle.fen(person["detail_amount"]) == fen


def test_persons_cannot_be_found_by_name_without_clearance(client: TestClient, demo_engine: Engine) -> None:
    from sqlalchemy import text

    with demo_engine.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM payee WHERE is_person ORDER BY payee_key LIMIT 1")
        ).scalar_one()
        company = conn.execute(
            text("SELECT name FROM payee WHERE NOT is_person AND unifsoc_cred_code IS NOT NULL LIMIT 1")
        ).scalar_one()
    assert client.get("/v1/payees", params={"q": name}).json()["rows"] == []
    found = client.get("/v1/payees", params={"q": company}).json()["rows"]
    assert any(r["name"] == company for r in found)
    assert client.get("/v1/payees/nope").status_code == 404
