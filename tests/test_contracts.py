"""The committed contracts are what the code generates: change them deliberately (``make contracts``)."""

from __future__ import annotations

from api.contracts import GRAPHQL, OPENAPI, graphql_document, openapi_document


def test_openapi_json_is_up_to_date() -> None:
    assert OPENAPI.read_bytes() == openapi_document(), "run `make contracts` and commit openapi/openapi.json"


def test_schema_graphql_is_up_to_date() -> None:
    assert GRAPHQL.read_text(encoding="utf-8") == graphql_document(), (
        "run `make contracts` and commit openapi/schema.graphql"
    )
