"""Classification codes by year, and how fresh each source's data is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from connectors.ingest.loader import load_batch
from tests.auth import api_client
from tests.factories import agency, write_manifest, write_table


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with api_client(engine) as c:
        yield c


def test_the_function_codes_of_a_year_include_junior_secondary_education(client: TestClient) -> None:
    body = client.get("/v1/classifications/exp_func", params={"year": 2025, "parent": "20502"}).json()
    codes = {r["code"]: r for r in body["rows"]}
    assert codes["2050203"] == {"code": "2050203", "name": "初中教育", "level": 3}
    assert all(c.startswith("20502") and c != "20502" for c in codes)
    top = client.get("/v1/classifications/dep_eco", params={"year": 2025, "level": 2}).json()["rows"]
    assert {"code": "30217", "name": "公务接待费", "level": 2} in top


@pytest.mark.parametrize(
    "url,parameter",
    [
        ("/v1/classifications/astrology?year=2025", "scheme"),
        ("/v1/classifications/exp_func", "year"),
        ("/v1/classifications/exp_func?year=1800", "year"),
    ],
)
def test_bad_classification_requests_name_the_parameter(client: TestClient, url: str, parameter: str) -> None:
    response = client.get(url)
    assert response.status_code == 422 and parameter in response.json()["detail"]


def test_sources_show_the_last_load_and_its_lag(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    assert client.get("/v1/sources").json() == []
    write_table(tmp_path, "agency", [agency("001", "郑州市教育局"), agency("002", "x", region="999999999")])
    write_manifest(tmp_path, source="budget-system")
    load_batch(engine, tmp_path)
    (status,) = client.get("/v1/sources").json()
    assert status["source"] == "budget-system" and status["status"] == "done"
    assert (status["rows"], status["quarantined"]) == (2, 1)
    assert status["data_as_of"].startswith("2025-12-31T10:00:00")  # 18:00 in Shanghai, kept in UTC
    assert status["lag_seconds"] > 0
