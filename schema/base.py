"""Declarative base, the feed-field column helper and the provenance every stored record carries.

Each warehouse column that comes from the canonical feed (``spec/feeds.md``) is declared with :func:`feed`,
which records in ``Column.info`` how the feed spells and types it. The loader reads that description, so the
models are the one place where the feed format is written down.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Kind(enum.StrEnum):
    """Feed value types of ``feeds.md``; ``region`` is a 9-digit finance region code, ``int`` whole."""

    CODE = "code"
    REGION = "region"
    TEXT = "text"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"
    AMOUNT = "amount"
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class FeedField:
    name: str  # the feed's (lower-case) field name
    kind: Kind
    required: bool = False
    code_set: str | None = None  # canonical code set the value must belong to
    choices: tuple[str, ...] | None = None  # allowed literal values, for small closed sets
    min_value: int | None = None
    max_value: int | None = None
    aliases: tuple[str, ...] = ()  # other feed spellings of the same field (e.g. track_pro_code)


_SQL_TYPES: dict[Kind, Any] = {
    Kind.CODE: String(64),
    Kind.REGION: String(9),
    Kind.TEXT: Text(),
    Kind.INT: Integer(),
    Kind.DATE: Date(),
    Kind.DATETIME: DateTime(),
    Kind.AMOUNT: BigInteger(),  # integer fen (分): exact on every engine
    Kind.FLAG: Boolean(),
}


def feed(
    kind: Kind,
    *,
    name: str | None = None,
    required: bool = False,
    key: bool = False,
    code_set: str | None = None,
    choices: tuple[str, ...] | None = None,
    min_value: int | None = None,
    max_value: int | None = None,
    aliases: tuple[str, ...] = (),
    index: bool = False,
    length: int | None = None,
) -> Any:
    """A column filled from the feed field ``name`` (defaults to the column name; amounts drop ``_fen``)."""
    sql_type = String(length) if length else _SQL_TYPES[kind]
    info = {
        "feed": {
            "name": name,
            "kind": kind,
            "required": required or key,
            "code_set": code_set,
            "choices": choices,
            "min_value": min_value,
            "max_value": max_value,
            "aliases": aliases,
        }
    }
    return mapped_column(sql_type, primary_key=key, nullable=not (required or key), index=index, info=info)


class Provenance:
    """Where each stored record came from, and its soft-delete and update-time state."""

    is_deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    update_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # UTC, naive
    src_name: Mapped[str] = mapped_column(String(64), nullable=False)  # source name (demo, treasury, …)
    src_run_id: Mapped[int] = mapped_column(Integer, nullable=False)  # load_run.id that last wrote it
    src_file: Mapped[str] = mapped_column(Text, nullable=False)  # the batch file it came from
    src_line: Mapped[int] = mapped_column(Integer, nullable=False)
    src_hash: Mapped[str] = mapped_column(String(32), nullable=False)  # blake2b-128 of the feed values
    loaded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC, naive


PROVENANCE_COLUMNS = (
    "is_deleted",
    "update_time",
    "src_name",
    "src_run_id",
    "src_file",
    "src_line",
    "src_hash",
    "loaded_at",
)

__all__ = ["Base", "Kind", "FeedField", "feed", "Provenance", "PROVENANCE_COLUMNS", "date", "datetime"]
