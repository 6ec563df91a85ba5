"""The API without its security, for ``bench/security.py`` only: no guard (tokens, budgets, reveals), no
audit trail, no authorisation; every caller sees the province, masked. What it costs to have them is the
difference between this and ``api.app:served_app`` on the same question."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from api.app import create_app
from api.audit_trail import AuditTrail
from api.deps import authorize, get_scope
from api.guard import Guard
from security.scope import Scope


def bare_app() -> FastAPI:
    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls not in (Guard, AuditTrail)]
    app.dependency_overrides[authorize] = lambda: None
    app.dependency_overrides[get_scope] = lambda: Scope(region="410000000")
    gc.collect()
    gc.freeze()  # as api.app:served_app does
    return app
