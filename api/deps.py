"""Request-scoped dependencies: the engine, one read transaction per request, the caller's scope."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from fastapi import Request
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.errors import Forbidden, ProblemError
from schema.db import DatabaseSettings
from security.permissions import allowed
from security.principal import Principal
from security.scope import Scope


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


def get_principal(request: Request) -> Principal | None:
    """The caller the guard verified (None on a public operation called without a token)."""
    return getattr(request.state, "principal", None)


def get_scope(request: Request) -> Scope:
    """The caller's scope: its jurisdiction's subtree, and personal data unmasked only when it has
    clearance and gave a reason (the guard checked both, and the reveal quota)."""
    principal = get_principal(request)
    if principal is None:
        raise ProblemError.unauthorized()
    reveal = getattr(request.state, "reveal_reason", None) is not None
    return Scope(region=principal.region, pii=reveal)


NOWHERE = Scope(region="")  # a scope that holds no region: what a caller without a token may see


def get_scope_or_nowhere(request: Request) -> Scope:
    """The caller's scope, or nothing at all without a token (a public page that opens a session)."""
    return get_scope(request) if get_principal(request) is not None else NOWHERE


def authorize(request: Request) -> None:
    """Function-level authorisation: the operation (method and route template) must be open to the
    caller's body in :data:`security.permissions.OPERATIONS`; an operation missing there is closed."""
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    operation = f"{method} {getattr(route, 'path', request.url.path)}"
    principal = get_principal(request)
    if not allowed(operation, principal.body if principal else None):
        if principal is None:
            raise ProblemError.unauthorized()
        raise Forbidden(f"a caller of the {principal.body} body may not call {operation}")
