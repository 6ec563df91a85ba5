"""The canonical feed format (``spec/feeds.md``) as data, read off the models' ``feed(...)`` columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Table

from schema.base import FeedField, Kind
from schema.models import FEED_MODELS


@dataclass(frozen=True, slots=True)
class FeedColumn:
    column: str  # warehouse column name (amounts carry a ``_fen`` suffix)
    field: FeedField


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference that must exist when the row is stored (else the row is quarantined)."""

    column: str
    target: str  # feed table name
    target_column: str


@dataclass(frozen=True)
class FeedTable:
    name: str
    table: Table
    key: tuple[str, ...]
    columns: tuple[FeedColumn, ...]  # feed columns, then is_deleted / update_time where the table takes them
    soft_state: bool  # the feed sends is_deleted and update_time for it
    derived: tuple[str, ...]  # columns the loader computes (payee_key)
    references: tuple[Reference, ...] = ()
    by_feed_name: dict[str, int] = field(default_factory=dict)  # feed name or alias → index in columns

    @property
    def key_index(self) -> tuple[int, ...]:
        names = [c.column for c in self.columns]
        return tuple(names.index(k) for k in self.key)

    def index_of(self, column: str) -> int:
        return [c.column for c in self.columns].index(column)


# References whose absence makes a row unstorable. Others (a payment's indicator, unit or project) may
# dangle: an orphan reference is a data-quality finding of the monitoring rules, not a load error.
_STRICT_REFERENCES: dict[str, tuple[Reference, ...]] = {
    "spe_fund_alloc": (Reference("spe_fund_code", "spe_fund", "spe_fund_code"),),
    "bgt_adj": (Reference("bgt_id", "ba_bgt_info", "bgt_id"),),
    "pay_plan": (Reference("bgt_id", "ba_bgt_info", "bgt_id"),),
    "pay_detail": (Reference("pay_cert_id", "pay_voucher", "pay_cert_id"),),
}


def _feed_table(model: type) -> FeedTable:
    table: Table = model.__table__  # type: ignore[attr-defined]
    soft_state = getattr(model, "__feed_soft_state__", True)
    columns: list[FeedColumn] = []
    derived: list[str] = []
    references = list(_STRICT_REFERENCES.get(table.name, ()))
    for col in table.columns:
        spec = col.info.get("feed")
        if col.info.get("derived"):
            derived.append(col.name)
        if not spec:
            continue
        name = spec["name"] or (col.name[:-4] if col.name.endswith("_fen") else col.name)
        ff = FeedField(
            name=name,
            kind=spec["kind"],
            required=spec["required"],
            code_set=spec["code_set"],
            choices=spec["choices"],
            min_value=spec["min_value"],
            max_value=spec["max_value"],
            aliases=spec["aliases"],
        )
        columns.append(FeedColumn(col.name, ff))
        # every region a row names must be a known finance region, except a region's own parent
        if ff.kind is Kind.REGION and table.name != "mof_div":
            references.append(Reference(col.name, "mof_div", "mof_div_code"))
    if soft_state:
        columns.append(FeedColumn("is_deleted", FeedField("is_deleted", Kind.FLAG)))
        columns.append(FeedColumn("update_time", FeedField("update_time", Kind.DATETIME)))
    by_name: dict[str, int] = {}
    for i, c in enumerate(columns):
        by_name[c.field.name] = i
        for alias in c.field.aliases:
            by_name[alias] = i
    key: tuple[str, ...] = tuple(model.__feed_key__)  # type: ignore[attr-defined]
    return FeedTable(
        table.name, table, key, tuple(columns), soft_state, tuple(derived), tuple(references), by_name
    )


@cache
def feed_tables() -> dict[str, FeedTable]:
    """Every feed table, in load order (a table after every table its rows must reference)."""
    return {m.__tablename__: _feed_table(m) for m in FEED_MODELS}  # type: ignore[attr-defined]
