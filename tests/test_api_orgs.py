"""Budget units and projects: every page walked once, filters, and their departments and units named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from connectors.ingest.loader import load_batch
from tests.auth import api_client
from tests.factories import JINSHUI, ZHENGZHOU, agency, write_table


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    write_table(
        tmp_path,
        "agency",
        [
            agency("001", "郑州市教育局"),
            agency("001001", "郑州市第一初级中学", dept="001"),
            agency("001002", "郑州市第二初级中学", dept="001"),
            agency("002", "郑州市卫生健康委员会"),
            agency("001", "金水区教育局", region=JINSHUI),
            agency("001009", "金水区已撤并学校", region=JINSHUI, dept="001", is_deleted="1"),
        ],
    )
    write_table(
        tmp_path,
        "project",
        [
            {
                "pro_code": "P1",
                "pro_name": "义务教育薄弱环节改善",
                "mof_div_code": ZHENGZHOU,
                "agency_code": "001001",
                "pro_kind_code": "3",
                "spe_fund_code": "ZX1",
                "start_year": "2025",
            },
            {
                "pro_code": "P2",
                "pro_name": "学校运转经费",
                "mof_div_code": ZHENGZHOU,
                "agency_code": "001002",
                "pro_kind_code": "2",
            },
        ],
    )
    load_batch(engine, tmp_path)
    with api_client(engine) as c:
        yield c


def walk(client: TestClient, url: str, **params: Any) -> list[dict[str, Any]]:
    rows, cursor = [], None
    while True:
        body = client.get(url, params={**params, "limit": 1} | ({"cursor": cursor} if cursor else {})).json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def test_every_live_unit_appears_once_with_its_department(client: TestClient) -> None:
    rows = walk(client, "/v1/agencies")
    assert [(r["region"], r["code"]) for r in rows] == [
        (ZHENGZHOU, "001"),
        (ZHENGZHOU, "001001"),
        (ZHENGZHOU, "001002"),
        (ZHENGZHOU, "002"),
        (JINSHUI, "001"),
    ]
    school = next(r for r in rows if r["code"] == "001001")
    assert (school["department_name"], school["region_name"]) == ("郑州市教育局", "郑州市")


def test_units_filter_by_department_region_and_keyword(client: TestClient) -> None:
    by_dept = walk(client, "/v1/agencies", department="001", region=ZHENGZHOU)
    assert {r["code"] for r in by_dept} == {"001", "001001", "001002"}
    assert [r["name"] for r in walk(client, "/v1/agencies", q="初级中学")] == [
        "郑州市第一初级中学",
        "郑州市第二初级中学",
    ]
    assert walk(client, "/v1/agencies", q="%") == []  # a wildcard is a literal character


def test_projects_name_their_unit_and_filter_by_fund(client: TestClient) -> None:
    rows = walk(client, "/v1/projects")
    assert [(r["code"], r["agency_name"]) for r in rows] == [
        ("P1", "郑州市第一初级中学"),
        ("P2", "郑州市第二初级中学"),
    ]
    assert [r["code"] for r in walk(client, "/v1/projects", spe_fund="ZX1")] == ["P1"]


def test_a_cursor_of_one_listing_is_refused_by_another(client: TestClient) -> None:
    cursor = client.get("/v1/agencies", params={"limit": 1}).json()["next_cursor"]
    response = client.get("/v1/projects", params={"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["detail"]
