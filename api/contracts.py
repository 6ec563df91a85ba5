"""The committed contracts: ``openapi/openapi.json`` generated from the code (``make contracts``)."""

from __future__ import annotations

from pathlib import Path

import orjson

from api.app import create_app

OPENAPI = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def openapi_document() -> bytes:
    return orjson.dumps(create_app().openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write() -> None:
    OPENAPI.parent.mkdir(exist_ok=True)
    OPENAPI.write_bytes(openapi_document())
    print(f"wrote {OPENAPI}")


if __name__ == "__main__":
    write()
