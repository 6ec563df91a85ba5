"""Real tokens for the tests: a local signing key made once per test process, tokens minted from it, and
clients of the API that carry one (rate limits off unless a test turns them on)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.graphql.schema import GraphQLSettings
from security.audit import AuditSettings, AuditWriter
from security.ratelimit import RateLimits, RateLimitSettings
from security.tokens import AuthSettings, TokenVerifier, init_keys, mint

PROVINCE = "410000000"


@cache
def audit_key() -> Any:
    """The signing key of the tests' audit checkpoints (one per test process)."""
    from security.checkpoints import create_signing_key

    return create_signing_key(keys_dir() / "audit-ed25519.pem")


def audit_writer(engine: Engine) -> AuditWriter:
    """An audit writer into ``engine``'s own audit log (checkpoints in the process's key folder)."""
    settings = AuditSettings(
        checkpoint_dir=keys_dir() / f"checkpoints-{id(engine)}", signing_key=keys_dir() / "audit-ed25519.pem"
    )
    return AuditWriter(engine, settings=settings, signing_key=audit_key())


@cache
def keys_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="oversight-test-keys-"))
    init_keys(path)
    return path


def auth_settings() -> AuthSettings:
    return AuthSettings(keys_dir=keys_dir(), jwks_file=keys_dir() / "jwks.json")


def token(body: str = "congress", region: str | None = PROVINCE, pii: bool = False, **claims: Any) -> str:
    return mint(keys_dir(), body=body, region=region, pii=pii, settings=auth_settings(), **claims)


def api_client(
    engine: Engine,
    *,
    body: str | None = "congress",
    region: str | None = PROVINCE,
    pii: bool = False,
    graphql: GraphQLSettings | None = None,
    limits: RateLimits | None = None,
    audit: AuditWriter | None = None,
) -> TestClient:
    """A client of the API over ``engine``, carrying a token of ``body`` for ``region`` (none if ``body`` is
    None)."""
    app = create_app(
        engine,
        graphql,
        verifier=TokenVerifier(auth_settings()),
        limits=limits or RateLimits(RateLimitSettings(enabled=False)),
        audit=audit or audit_writer(engine),
    )
    client = TestClient(app)
    if body is not None:
        client.headers["Authorization"] = f"Bearer {token(body, region, pii)}"
    return client
