"""The FastAPI application."""

from __future__ import annotations

import gc

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from api import errors
from api.analysis.routes import router as analysis_router
from api.audit.routes import router as audit_router
from api.audit_trail import AuditTrail, GroupCommit
from api.cache import CacheSettings, ResponseCache
from api.channels.routes import router as channels_router
from api.deps import authorize
from api.funds.routes import router as funds_router
from api.graphql.schema import GraphQLSettings, graphql_router
from api.guard import Guard, Verifier
from api.health import router as health_router
from api.indicators.routes import router as indicators_router
from api.inquiries.routes import router as inquiries_router
from api.orgs.routes import router as orgs_router
from api.payees.routes import router as payees_router
from api.payments.routes import router as payments_router
from api.reference.routes import router as reference_router
from api.regions.routes import router as regions_router
from api.reports.routes import router as reports_router
from api.responses import OrjsonResponse
from api.warnings.routes import router as warnings_router
from security.audit import AuditWriter
from security.ratelimit import RateLimits

DESCRIPTION = """Read-only oversight of the four budgets (四本预算) of a region: when money was allocated,
to whom, and how it was used (何时拨、拨给谁、怎么用). Amounts are decimal strings in yuan.
The same questions, nested in one request, are answered by GraphQL at `POST /graphql`."""


def create_app(
    engine: Engine | None = None,
    graphql: GraphQLSettings | None = None,
    verifier: Verifier | None = None,
    limits: RateLimits | None = None,
    audit: AuditWriter | None = None,
    writer: Engine | None = None,
) -> FastAPI:
    """The application over ``engine`` (default: the one ``OVERSIGHT_DATABASE_URL`` names, read only);
    GraphQL's guardrails from ``graphql`` (default: the ``OVERSIGHT_GRAPHQL_`` settings); tokens checked by
    ``verifier`` (default: the ``OVERSIGHT_AUTH_`` issuer); budgets from ``limits`` (default: the
    ``OVERSIGHT_RATELIMIT_`` settings); every request recorded by ``audit`` (default: the
    ``OVERSIGHT_AUDIT_`` settings, which need the signing key ``oversight audit init`` makes). Warning
    lifecycle steps and inquiries (询问函), the writes a caller can make, go through ``writer``
    (default: ``engine`` when one is given, else a writable engine on ``OVERSIGHT_DATABASE_URL``); every
    other route reads through ``engine``."""
    from schema.db import make_engine, reader_engine
    from security.tokens import AuthSettings, TokenVerifier

    app = FastAPI(
        title="fiscal-oversight",
        version="0.1.0",
        description=DESCRIPTION,
        default_response_class=OrjsonResponse,
        dependencies=[Depends(authorize)],
    )
    app.state.engine = engine or reader_engine()
    app.state.writer = writer or engine or make_engine()
    app.state.limits = limits or RateLimits()
    # the last added runs first: the guard (who, budget, reveal), then the cache keyed by who it was
    app.add_middleware(ResponseCache, engine=app.state.engine, entries=CacheSettings().response_cache_entries)
    app.add_middleware(Guard, verifier=verifier or TokenVerifier(AuthSettings()), limits=app.state.limits)
    app.state.audit = audit or AuditWriter()
    app.add_middleware(AuditTrail, commit=GroupCommit(app.state.audit))  # outermost: sees every answer
    errors.install(app)
    app.include_router(health_router)
    app.include_router(analysis_router)
    app.include_router(indicators_router)
    app.include_router(funds_router)
    app.include_router(payments_router)
    app.include_router(payees_router)
    app.include_router(regions_router)
    app.include_router(orgs_router)
    app.include_router(reference_router)
    app.include_router(audit_router)
    app.include_router(warnings_router)
    app.include_router(inquiries_router)
    app.include_router(channels_router)
    app.include_router(reports_router)
    app.include_router(graphql_router(graphql))
    return app


def served_app() -> FastAPI:
    """The application as ``oversight serve`` runs it (one per worker process). What exists once it is
    built (modules, the GraphQL schema, the engine) lives as long as the process, so it is moved out of
    the garbage collector's generations: a full collection over it took 110-150 ms here, every few
    GraphQL requests (bench/RESULTS.md, GraphQL)."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
