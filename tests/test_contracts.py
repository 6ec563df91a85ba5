"""The committed contracts are what the code generates: change them deliberately (``make contracts``)."""

from __future__ import annotations

from api.contracts import OPENAPI, openapi_document


def test_openapi_json_is_up_to_date() -> None:
    assert OPENAPI.read_bytes() == openapi_document(), "run `make contracts` and commit openapi/openapi.json"
