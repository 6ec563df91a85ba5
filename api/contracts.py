"""The committed contracts, generated from the code (``make contracts``): ``openapi/openapi.json`` and
``openapi/schema.graphql``."""

from __future__ import annotations

from pathlib import Path

import orjson

from api.app import create_app

OPENAPI = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
GRAPHQL = OPENAPI.parent / "schema.graphql"


def openapi_document() -> bytes:
    return orjson.dumps(create_app().openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


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
