"""Request-scoped dependencies."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]
