"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from api.health import router as health_router

DESCRIPTION = """Read-only oversight of the four budgets (四本预算) of a region: when money was allocated,
to whom, and how it was used (何时拨、拨给谁、怎么用). Amounts are decimal strings in yuan."""


def create_app() -> FastAPI:
    app = FastAPI(
        title="fiscal-oversight",
        version="0.1.0",
        description=DESCRIPTION,
        default_response_class=ORJSONResponse,
    )
    app.include_router(health_router)
    return app
