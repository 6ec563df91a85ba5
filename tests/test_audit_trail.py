"""Every request through the API leaves one audit entry, refused and failed ones included, before its answer
leaves; without the log, no data. On SQLite and PostgreSQL, each test on a fresh warehouse."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from schema.audit import AuditLog
from security.audit import AuditEntry, AuditSettings, AuditWriteError, AuditWriter, verify
from security.ratelimit import RateLimits, RateLimitSettings
from tests.auth import api_client, audit_key, keys_dir, token


def _writer(engine: Engine, name: str, every: int = 1000) -> AuditWriter:
    settings = AuditSettings(
        checkpoint_dir=keys_dir() / f"trail-{name}-{id(engine)}",
        signing_key=keys_dir() / "audit-ed25519.pem",
        checkpoint_every=every,
    )
    return AuditWriter(engine, settings=settings, signing_key=audit_key())


def _entries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditLog).order_by(AuditLog.seq)))


def test_n_mixed_calls_leave_n_entries_and_the_log_verifies(engine: Engine) -> None:
    writer = _writer(engine, "mixed", every=5)
    limits = RateLimits(RateLimitSettings(congress="6/minute"))
    calls = 0
    with api_client(engine, limits=limits, audit=writer) as c:
        statuses = []
        statuses.append(c.get("/v1/regions", params={"limit": 2}).status_code)  # 200
        statuses.append(c.get("/v1/payments/nope").status_code)  # 404
        statuses.append(c.get("/v1/drilldown", params={"by": "nonsense"}).status_code)  # 422
        statuses.append(c.get("/v1/audit").status_code)  # 403: congress may not read the log
        statuses.append(
            c.post("/graphql", json={"query": "query Q { regions(first: 1) { totalCount } }"}).status_code
        )
        statuses.append(c.get("/v1/regions", headers={"Authorization": "Bearer forged"}).status_code)  # 401
        statuses.append(c.get("/v1/summary", headers={"Authorization": ""}).status_code)  # 401
        statuses += [c.get("/v1/regions").status_code for _ in range(3)]  # the budget of 6 runs out: 429s
        calls = len(statuses)
    assert statuses[:7] == [200, 404, 422, 403, 200, 401, 401]
    assert 429 in statuses
    rows = _entries(engine)
    assert len(rows) == calls
    assert [r.status for r in rows] == statuses
    assert (
        rows[0].operation == "GET /v1/regions"
        and rows[0].sub == "local:congress"
        and rows[0].result_count >= 1
    )
    assert rows[4].operation == "graphql query Q: regions"
    assert rows[5].sub is None and rows[5].status == 401
    assert all(r.request_id for r in rows) and all(r.client for r in rows)
    report = verify(engine, writer.checkpoint_dir, audit_key().public_key())
    assert report.ok, report.summary()
    assert report.checkpoints >= 1


def test_a_reveal_is_recorded_with_its_reason(engine: Engine) -> None:
    writer = _writer(engine, "reveal")
    with api_client(engine, body="audit", pii=True, audit=writer) as c:
        c.get("/v1/regions")
        c.get("/v1/regions", headers={"X-Reveal-Reason": "subsidy case 2025-17"})
    first, second = _entries(engine)
    assert not first.pii_revealed and first.reveal_reason is None
    assert second.pii_revealed and second.reveal_reason == "subsidy case 2025-17"


def test_secrets_in_parameters_are_redacted(engine: Engine) -> None:
    writer = _writer(engine, "secrets")
    with api_client(engine, audit=writer) as c:
        c.get("/v1/regions", params={"q": "郑州", "token": "s3cret"})
    (row,) = _entries(engine)
    assert "s3cret" not in row.parameters and "郑州" in row.parameters


def test_audit_admin_reads_the_log_and_is_recorded_reading_it(engine: Engine) -> None:
    writer = _writer(engine, "admin")
    with api_client(engine, audit=writer) as c:
        c.get("/v1/regions")
    with api_client(engine, body="audit_admin", region=None, audit=writer) as admin:
        page = admin.get("/v1/audit").json()
        assert [r["operation"] for r in page["rows"]] == ["GET /v1/regions"]
        again = admin.get("/v1/audit").json()
        assert [r["operation"] for r in again["rows"]][:2] == ["GET /v1/audit", "GET /v1/regions"]


class _Broken(AuditWriter):
    def record_many(self, entries: Any) -> list[int]:
        raise AuditWriteError("the disk is full")


def test_no_log_no_data(engine: Engine) -> None:
    broken = _Broken(
        engine, settings=AuditSettings(signing_key=keys_dir() / "audit-ed25519.pem"), signing_key=audit_key()
    )
    with api_client(engine, audit=broken) as c:
        r = c.get("/v1/regions")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "410000000" not in r.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_an_entry_cannot_be_changed_afterwards(engine: Engine) -> None:
    writer = _writer(engine, "frozen")
    writer.record(AuditEntry(operation="GET /v1/regions", status=200))
    from sqlalchemy import update
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(update(AuditLog).values(status=500))
    assert token("congress")
