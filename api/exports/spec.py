"""What an export is made of: its format, its columns and their types, its manifest, and its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


FormatParam = Annotated[
    ExportFormat,
    Query(
        alias="format",
        description="json (the default: one page), or csv / xlsx: the whole query (cursor and limit are "
        "ignored) as a zip holding the data file and manifest.json with its row count, sums and sha256 "
        "(docs/exports.md)",
    ),
]

ColumnType = Literal["text", "money", "int", "date", "datetime", "bool"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export: its header, its type, and how a converted row (the JSON route's own row
    model, so masking and formatting are the JSON's) gives its value. A ``money`` value is the JSON's
    decimal string of yuan."""

    name: str
    type: ColumnType
    get: Callable[[Any], Any]
    path: str | None = None  # the dotted attribute ``get`` reads, when that is all it does
    index: int | None = None  # the position ``get`` reads, when rows are the columns' values in order


class ExportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    export_statement_timeout_ms: int = Field(
        default=600_000,
        ge=1000,
        description="Longest time one SQL statement of a CSV or XLSX export may run (PostgreSQL): an export "
        "reads a whole query, so it gets longer than a page's OVERSIGHT_STATEMENT_TIMEOUT_MS.",
    )
    export_idle_timeout_ms: int = Field(
        default=300_000,
        ge=1000,
        description="Longest time an export's transaction may wait for its client to read on (PostgreSQL "
        "idle_in_transaction_session_timeout): a client that stops reading loses its export.",
    )
    export_concurrency: int = Field(
        default=4,
        ge=1,
        description="CSV or XLSX exports one API process streams at once; one more is answered 503 (each "
        "holds a database connection while its client reads).",
    )


class ManifestColumn(BaseModel):
    name: str
    type: ColumnType


class ExportQuery(BaseModel):
    path: str = Field(description="the route, e.g. /v1/payments")
    params: dict[str, str | list[str]] = Field(
        description="every query parameter given but format, cursor, limit"
    )


class ExportScope(BaseModel):
    region: str | None = Field(description="the caller's jurisdiction (null: every region)")
    pii: bool = Field(description="personal data shown unmasked (clearance and X-Reveal-Reason)")


class Manifest(BaseModel):
    """``manifest.json`` of an export: what was asked, by whom, and what the data file must hold."""

    export: str
    query: ExportQuery
    scope: ExportScope
    generated_at: str = Field(description="UTC, ISO 8601")
    data_as_of: str | None = Field(description="the newest finished load run's finished_at (UTC), or null")
    rows: int = Field(description="data rows in the file (header rows not counted)")
    sums: dict[str, str] = Field(description="per money column: its exact sum, yuan with two decimals")
    columns: list[ManifestColumn]
    file: str
    bytes: int
    sha256: str
