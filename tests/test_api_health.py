"""The service answers its health check on whichever engine it is given."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app


def test_healthz_reports_the_database(engine: Engine) -> None:
    with TestClient(create_app(engine)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": engine.dialect.name}
