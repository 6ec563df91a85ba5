"""Summary and drill-down over the demo province: rows partition the total, totals match the definitions.

Every check runs on SQLite and PostgreSQL against the loaded small demo (``demo_engine``), and compares the
service with ``tests/oracle.py``, which computes the measures from the raw feed tables in plain Python.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import oracle

YEAR = 2025
PROVINCE = "410000000"
DIMS = (
    "region",
    "fund_type",
    "department",
    "agency",
    "project",
    "spe_fund",
    "mof_dep",
    "exp_func",
    "gov_eco",
    "dep_eco",
    "month",
    "indicator",
    "payee",
)
LEVELS = {"exp_func": 3, "gov_eco": 2, "dep_eco": 2}


def all_rows(client: TestClient, params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every page of a drill-down; returns the first page's body and all rows."""
    first = None
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(
            "/v1/drilldown", params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        first = first or body
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            return first, rows


def as_fen(measures: dict[str, Any]) -> dict[str, int]:
    return {m: (measures[m] if m == "payments" else oracle.fen(measures[m])) for m in oracle.MEASURES}


def assert_partition(body: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    total = as_fen(body["total"])
    summed = as_fen(body["unattributed"])
    for row in rows:
        for m, v in as_fen(row["measures"]).items():
            summed[m] += v
    assert summed == total, (body["scope"], summed, total)
    assert len({r["key"] for r in rows}) == len(rows)


def drill_paths(seed: int, n: int) -> Iterator[tuple[str | None, bool, str]]:
    rnd = random.Random(seed)
    regions = [None, PROVINCE, "410100000", "410102000", "410300000"]
    for _ in range(n):
        yield rnd.choice(regions), rnd.random() < 0.25, rnd.choice(DIMS)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_drill_paths_partition_and_match_the_definitions(
    client: TestClient, warehouse: oracle.Warehouse, seed: int
) -> None:
    """A walk of clicks: each step breaks the scope down, then takes one row's key as the next filter."""
    rnd = random.Random(seed)
    for region, own_level, first_by in drill_paths(seed, 6):
        filters: dict[str, str] = {}
        by = first_by
        for _step in range(3):
            params: dict[str, Any] = {"year": YEAR, "by": by, **filters}
            if region:
                params["region"] = region
            if own_level and region:
                params["own_level"] = "true"
            if by in LEVELS:
                params["level"] = rnd.randint(1, LEVELS[by])
            body, rows = all_rows(client, params)
            assert_partition(body, rows)
            expected = oracle.measures(
                warehouse, YEAR, region or PROVINCE, filters, own_level and bool(region)
            )
            assert as_fen(body["total"]) == expected, params
            if by == "region" or not rows:
                break
            pick = rnd.choice(rows)
            if by in LEVELS:
                filters[by] = pick["key"]
            else:
                filters[by] = pick["key"]
            by = rnd.choice([d for d in DIMS if d not in filters and d != "region"])


@pytest.mark.parametrize("by", [d for d in DIMS if d != "region"])
def test_every_dimension_rows_equal_the_definitions(
    client: TestClient, warehouse: oracle.Warehouse, by: str
) -> None:
    """Each row of a breakdown of Zhengzhou (郑州市) equals the oracle's figures for that row's key."""
    region = "410100000"
    body, rows = all_rows(client, {"year": YEAR, "region": region, "by": by})
    assert_partition(body, rows)
    for row in random.Random(by).sample(rows, min(5, len(rows))):
        expected = oracle.measures(warehouse, YEAR, region, {by: row["key"]})
        assert as_fen(row["measures"]) == expected, (by, row["key"])


def test_region_rows_are_the_own_level_and_each_child_subtree(
    client: TestClient, warehouse: oracle.Warehouse
) -> None:
    body, rows = all_rows(client, {"year": YEAR, "region": PROVINCE, "by": "region"})
    assert_partition(body, rows)
    own = [r for r in rows if r["own_level"]]
    assert [r["key"] for r in own] == [PROVINCE]
    assert as_fen(own[0]["measures"]) == oracle.measures(warehouse, YEAR, PROVINCE, {}, own_level=True)
    children = {c for c, p in warehouse.parent.items() if p == PROVINCE}
    for row in rows:
        if row["key"] == PROVINCE:
            continue
        assert row["key"] in children
        child = oracle.measures(warehouse, YEAR, row["key"], {})
        # the child's own transfers from the province are internal to the province's scope
        assert oracle.fen(row["measures"]["paid"]) == child["paid"]
        assert oracle.fen(row["measures"]["budget"]) == child["budget"]


def test_a_whole_subtree_has_no_transfers_but_its_parts_do(client: TestClient) -> None:
    province = client.get("/v1/summary", params={"year": YEAR, "region": PROVINCE}).json()
    city = client.get("/v1/summary", params={"year": YEAR, "region": "410100000"}).json()
    assert province["total"]["measures"]["transfer_in"] == "0.00"
    assert oracle.fen(city["total"]["measures"]["transfer_in"]) > 0


def test_summary_lines_add_up_and_match_the_definitions(
    client: TestClient, warehouse: oracle.Warehouse
) -> None:
    body = client.get("/v1/summary", params={"year": YEAR, "region": "410100000"}).json()
    assert [b["fund_type"] for b in body["budgets"]][:4] == ["1", "2", "3", "4"]
    total = dict.fromkeys(oracle.MEASURES, 0)
    for line in body["budgets"]:
        for m, v in as_fen(line["measures"]).items():
            total[m] += v
        assert as_fen(line["measures"]) == oracle.measures(
            warehouse, YEAR, "410100000", {"fund_type": line["fund_type"]}
        )
    assert total == as_fen(body["total"]["measures"])
    assert body["total"]["time_progress"] == "1.0000"  # 2025 is over at the data's as-of date
    assert {e["side"] for e in body["execution"]} == {"income", "expense"}
    assert body["sources"] and body["sources"][0]["source"] == "demo"
    assert body["scope"]["region_name"] == "郑州市"


def test_pages_follow_the_sort_without_gaps(client: TestClient) -> None:
    params = {"year": YEAR, "region": PROVINCE, "by": "agency", "sort": "-paid"}
    _, everything = all_rows(client, params)
    seen, cursor = [], None
    while True:
        r = client.get(
            "/v1/drilldown", params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        )
        body = r.json()
        seen += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [r["key"] for r in seen] == [r["key"] for r in everything]
    paid = [oracle.fen(r["measures"]["paid"]) for r in seen]
    assert paid == sorted(paid, reverse=True)


@pytest.mark.parametrize(
    ("params", "parameter", "status"),
    [
        ({"by": "nonsense"}, "by", 422),
        ({"by": "agency", "year": "twenty"}, "year", 422),
        ({"by": "agency", "region": "41"}, "region", 422),
        ({"by": "exp_func", "level": 4}, "level", 422),
        ({"by": "gov_eco", "level": 3}, "level", 400),
        ({"by": "agency", "level": 2}, "level", 400),
        ({"by": "agency", "month": "13"}, "month", 400),
        ({"by": "agency", "exp_func": "2x5"}, "exp_func", 400),
        ({"by": "agency", "sort": "-bogus"}, "sort", 422),
        ({"by": "agency", "cursor": "not-a-cursor"}, "cursor", 400),
        ({"by": "agency", "agency": "101"}, "agency", 400),
        ({"by": "agency", "limit": 501}, "limit", 422),
        ({"by": "agency", "project": "a\x00b"}, "project", 422),
        ({"by": "agency", "month": "３"}, "month", 400),  # a full-width digit is not a month
        (
            {
                "by": "agency",
                "sort": "execution_rate",
                "cursor": "eyJsIjoiZHJpbGxkb3duOmV4ZWN1dGlvbl9yYXRlIiwiayI6WyJOYU4iLCJ4Il19",
            },
            "cursor",
            400,
        ),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient, params: dict[str, Any], parameter: str, status: int
) -> None:
    r = client.get(
        "/v1/drilldown", params={k: v for k, v in {"year": YEAR, **params}.items() if v is not None}
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert parameter in r.json()["detail"]


def test_an_unknown_region_is_not_found(client: TestClient) -> None:
    for url in ("/v1/drilldown?by=agency&region=999999999", "/v1/summary?region=999999999"):
        r = client.get(url)
        assert r.status_code == 404, r.text


def test_a_cursor_of_another_listing_is_refused(client: TestClient) -> None:
    body = client.get("/v1/drilldown", params={"year": YEAR, "by": "agency", "limit": 1}).json()
    r = client.get(
        "/v1/drilldown", params={"year": YEAR, "by": "agency", "sort": "-paid", "cursor": body["next_cursor"]}
    )
    assert r.status_code == 400 and "cursor" in r.json()["detail"]


def test_execution_is_each_regions_latest_month_summed(
    client: TestClient, warehouse: oracle.Warehouse, demo_engine: Engine
) -> None:
    from sqlalchemy import text

    region = "410100000"
    scope = warehouse.subtree(region)
    with demo_engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(text("SELECT * FROM gov_exec WHERE NOT is_deleted AND fiscal_year = 2026"))
        ]
    latest: dict[tuple[str, str, str], int] = {}
    for r in rows:
        if r["mof_div_code"] in scope:
            k = (r["mof_div_code"], r["fund_type_code"], r["side"])
            latest[k] = max(latest.get(k, 0), r["month"])
    expected: dict[tuple[str, str], int] = {}
    for r in rows:
        if latest.get((r["mof_div_code"], r["fund_type_code"], r["side"])) == r["month"]:
            key = (r["fund_type_code"], r["side"])
            expected[key] = expected.get(key, 0) + r["exec_amt_fen"]
    body = client.get("/v1/summary", params={"year": 2026, "region": region}).json()
    got = {(e["fund_type"], e["side"]): oracle.fen(e["executed"]) for e in body["execution"]}
    assert got == expected and got
    assert body["total"]["time_progress"] not in (None, "1.0000")  # 2026 is under way at the as-of date


def test_a_class_drills_into_its_sections(client: TestClient, warehouse: oracle.Warehouse) -> None:
    """类 → 款: a coarser code of the same classification filters the finer breakdown."""
    body, rows = all_rows(client, {"year": YEAR, "by": "exp_func", "level": 2, "exp_func": "205"})
    assert rows and all(r["key"].startswith("205") and len(r["key"]) == 5 for r in rows)
    assert as_fen(body["total"]) == oracle.measures(warehouse, YEAR, PROVINCE, {"exp_func": "205"})
    assert_partition(body, rows)
