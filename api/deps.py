"""Request-scoped dependencies: the engine, one read transaction per request, the caller's scope."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from security.scope import Scope, whole_dataset


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """One request, one transaction, opened and closed here; services never commit."""
    with Session(request.app.state.engine) as session, session.begin():
        yield session


def get_scope() -> Scope:
    """The caller's scope. Until identities exist (the security issue) it is the whole dataset."""
    return whole_dataset()
