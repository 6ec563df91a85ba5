"""The committed contracts, generated from the code (``make contracts``): ``openapi/openapi.json`` and
``openapi/schema.graphql``."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import FastAPI

from api.app import create_app

OPENAPI = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
GRAPHQL = OPENAPI.parent / "schema.graphql"


def contract_app() -> FastAPI:
    """The application as a contract: its routes and models, over an empty in-memory database, with
    throwaway keys (the document does not depend on them)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.pool import StaticPool

    from schema.db import make_engine
    from security.audit import AuditWriter
    from security.tokens import AuthSettings, TokenVerifier

    engine = make_engine("sqlite://", poolclass=StaticPool)
    verifier = TokenVerifier(AuthSettings(jwks_file=None))
    return create_app(
        engine, verifier=verifier, audit=AuditWriter(engine, signing_key=Ed25519PrivateKey.generate())
    )


def openapi_document() -> bytes:
    return orjson.dumps(contract_app().openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def graphql_document() -> str:
    from api.graphql.schema import GraphQLSettings, make_schema

    return make_schema(GraphQLSettings()).as_str() + "\n"


def write() -> None:
    OPENAPI.parent.mkdir(exist_ok=True)
    OPENAPI.write_bytes(openapi_document())
    GRAPHQL.write_text(graphql_document(), encoding="utf-8")
    print(f"wrote {OPENAPI} and {GRAPHQL}")


if __name__ == "__main__":
    write()
