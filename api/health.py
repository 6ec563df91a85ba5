"""``/healthz``: the process is up and the warehouse answers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from schema.db import default_engine

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/healthz", response_model=Health, summary="Liveness and database reachability")
def healthz() -> Health:
    engine = default_engine()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(status="ok", database=engine.dialect.name)
