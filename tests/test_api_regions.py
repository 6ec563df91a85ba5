"""Regions: listing with cursors, one region with its path, and errors in the problem+json shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.auth import api_client


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with api_client(engine) as c:
        yield c


def test_walking_every_page_lists_each_city_of_henan_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"parent": "410000000", "limit": 5} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/regions", params=params).json()
        seen += [r["code"] for r in body["rows"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 18  # 17 prefecture-level cities and 济源, attached to the province
    assert seen == sorted(seen)


def test_a_region_carries_its_path(client: TestClient) -> None:
    body = client.get("/v1/regions/410102001").json()
    assert body["name"] == "林山寨街道"
    assert [a["name"] for a in body["ancestors"]] == ["河南省", "郑州市", "中原区"]


@pytest.mark.parametrize(
    "url,status,parameter",
    [
        ("/v1/regions/999999999", 404, None),
        ("/v1/regions/41", 422, "code"),
        ("/v1/regions?limit=0", 422, "limit"),
        ("/v1/regions?limit=501", 422, "limit"),
        ("/v1/regions?level=x", 422, "level"),
        ("/v1/regions?cursor=garbage!", 400, "cursor"),
        ("/v1/nowhere", 404, None),
    ],
)
def test_errors_are_problem_documents_naming_the_parameter(
    client: TestClient, url: str, status: int, parameter: str | None
) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if parameter:
        assert parameter in body["detail"]
