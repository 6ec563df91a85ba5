"""Request-scoped dependencies: the engine, one read transaction per request, the caller's scope."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from fastapi import Request
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from schema.db import DatabaseSettings
from security.scope import Scope, whole_dataset


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """One request, one transaction, opened and closed here; services never commit. On PostgreSQL no
    statement of it may run longer than ``OVERSIGHT_STATEMENT_TIMEOUT_MS``, and none is JIT-compiled: the
    planner's cost of a wide rollup sum or of a GraphQL level's UNION passes ``jit_above_cost``, and
    compiling took 200 ms where running took 20 (bench/RESULTS.md, GraphQL)."""
    engine = request.app.state.engine
    with Session(engine) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL statement_timeout = {statement_timeout_ms()}"))
            session.execute(text("SET LOCAL jit = off"))
        yield session


@cache
def statement_timeout_ms() -> int:
    return DatabaseSettings().statement_timeout_ms


def get_scope() -> Scope:
    """The caller's scope. Until identities exist (the security issue) it is the whole dataset."""
    return whole_dataset()
