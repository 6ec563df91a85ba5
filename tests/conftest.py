"""Fixtures: a fresh, migrated warehouse per test on SQLite and on the machine's PostgreSQL.

PostgreSQL is found through ``OVERSIGHT_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
When it cannot be reached its tests are skipped and named; with ``OVERSIGHT_REQUIRE_SERVICES=1`` (set by
``.ci/run``) they fail instead, so CI always runs them.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from schema.db import make_engine, normalise_url
from schema.migrate import upgrade
from tests import oracle
from tests.auth import api_client

PG_URL = normalise_url(os.environ.get("OVERSIGHT_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"))
REQUIRE_SERVICES = os.environ.get("OVERSIGHT_REQUIRE_SERVICES") == "1"
_counter = itertools.count()


def service_unavailable(what: str, why: object) -> None:
    """Skip, or fail when CI demands every service."""
    message = f"{what} not available: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (OVERSIGHT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "warehouse.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the service is missing
        engine.dispose()
        service_unavailable("PostgreSQL", exc)
    yield engine
    engine.dispose()


def _pg_database_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    name = f"oversight_tmpl_{os.getpid()}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_database_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_engine(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Iterator[Engine]:
    if kind == "sqlite":
        path = tmp_path / "warehouse.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    template: str = request.getfixturevalue("pg_template")
    name = f"oversight_t_{os.getpid()}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))  # left by a killed run of a reused pid
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = make_engine(_pg_database_url(name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated, reference-seeded warehouse, on each engine in turn."""
    yield from fresh_engine(request, request.param, tmp_path)


@pytest.fixture(scope="session")
def demo_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo province (seed 7) as CSV, generated once per test process."""
    from demo.generate import generate

    path = tmp_path_factory.mktemp("demo-batch") / "small-seed7"
    generate(path, scale="small", seed=7, fmt="csv", encoding="utf-8")
    return path


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def demo_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_batch: Path
) -> Iterator[Engine]:
    """A warehouse holding the loaded small demo province, shared by the read-only tests of a process.
    Tests that write must use ``engine`` instead."""
    from connectors.ingest.loader import load_batch

    tmp = tmp_path_factory.mktemp(f"demo-{request.param}")
    for engine in fresh_engine(request, request.param, tmp):
        load_batch(engine, demo_batch, source="demo")
        yield engine


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what a passing test reports with ``record_property("summary", text)`` (e.g. how many forged
    token classes were refused); it travels with the test's report, so it shows under xdist too."""
    lines = {
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", ())
        if name == "summary"
    }
    if lines:
        terminalreporter.write_sep("-", "summaries")
        for line in sorted(lines):
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    """A congress caller of the whole demo province (a module defines its own for another caller)."""
    with api_client(demo_engine) as c:
        yield c


@pytest.fixture(scope="module")
def warehouse(demo_engine: Engine) -> oracle.Warehouse:
    """What the demo warehouse holds, read directly: the oracle the API's answers are checked against."""
    return oracle.read(demo_engine)
