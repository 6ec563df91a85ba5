"""The service answers its health check on whichever engine it is given."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.auth import api_client


def test_healthz_reports_the_database(engine: Engine) -> None:
    with api_client(engine) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": engine.dialect.name}
