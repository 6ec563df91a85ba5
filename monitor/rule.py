"""What a warning rule is: its declaration (code, group, name, level, parameters, legal basis, scope) and
the context its set-based query is built in.

A rule's ``query`` returns a SQLAlchemy ``Select`` over the warehouse whose rows are its findings, one per
object, with these labelled columns:

=============== ========================================================================================
``object_id``   the primary object (a ``pay_cert_id``, ``bgt_id``, ``agency_code``, ``pay_detail_id``)
``mof_div_code`` the region whose finance bureau must answer the warning
``fiscal_year`` the fiscal year of the finding
``amount_fen``  the money the finding is about (integer fen)
``occurred_on`` the data date of the event (a payment's ``vou_date``, a document's date, …)
optional        ``object_type`` (when not the rule's), ``agency_code``, ``payee_key``, ``facet`` (a second
                part of the identity, e.g. a month), ``related_type`` (of the related ids, when not the
                object's),
                ``related`` (other objects' ids joined by commas, see :func:`monitor.sql.ids_agg`),
                ``level`` (a graded rule's level for the row)
``ev_<name>``   evidence figures; a name ending in ``_fen`` is money, shown in yuan without the suffix
=============== ========================================================================================

Rules are evaluated on SQLite and PostgreSQL alike; every amount is integer fen, every share an integer
comparison (no floats).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, true


class Level(StrEnum):
    """预警等级: 蓝 a log entry, 黄 a warning, 橙 a warning whose answer needs evidence, 红 serious."""

    blue = "blue"
    yellow = "yellow"
    orange = "orange"
    red = "red"

    @property
    def chinese(self) -> str:
        return {"blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}[self.value]


class ObjectType(StrEnum):
    payment = "payment"  # pay_voucher.pay_cert_id
    indicator = "indicator"  # ba_bgt_info.bgt_id
    agency = "agency"  # agency.agency_code, within mof_div_code
    pay_detail = "pay_detail"  # pay_detail.pay_detail_id
    region = "region"  # mof_div.mof_div_code
    plan = "plan"  # pay_plan.plan_id


ParamValue = int | str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter with its default; overridable in the monitoring configuration, per region."""

    name: str
    default: ParamValue
    description: str

    def coerce(self, value: object) -> ParamValue:
        """A configured value in the default's type, or ValueError naming what is wrong."""
        if isinstance(self.default, bool) or not isinstance(self.default, int | str | tuple):
            raise ValueError(f"{self.name}: unsupported parameter type")
        if isinstance(self.default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.name} must be a whole number, not {value!r}")
            return value
        if isinstance(self.default, tuple):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{self.name} must be a list of strings, not {value!r}")
            return tuple(value)
        if not isinstance(value, str):
            raise ValueError(f"{self.name} must be a string, not {value!r}")
        return value


Explain = Callable[[dict[str, Any], Mapping[str, ParamValue]], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    code: str  # stable code, e.g. USE-01
    key: str  # the rule's name in the demo generator's anomalies.jsonl (scoring)
    group: str  # 指标接收, 资金分配, 拨付进度, 资金使用, 账户管理, 收款人, 受益对象, 数据质量
    name: str  # Chinese name, e.g. 大额提取现金
    title: str  # English name
    level: Level
    object_type: ObjectType
    fires_when: str  # the condition in one sentence, with the parameters' names in braces
    basis: str  # legal basis (法律依据)
    message: str  # one finding in words: a str.format template over evidence and parameters
    query: Callable[[Ctx], Select[Any]]
    inputs: tuple[str, ...]  # warehouse tables it reads
    params: tuple[Param, ...] = ()
    regions: tuple[str, ...] = ()  # subtrees it applies to by default; empty: every region
    time_dependent: bool = False  # depends on the evaluation date: evaluated in full whenever it moved
    explain: Explain | None = None  # derived evidence (shares as text, …) from the row's figures
    # what an incremental evaluation looked at again: a query of ``object_id`` (and ``mof_div_code``,
    # ``fiscal_year`` where the object needs them) over which its restriction re-evaluated every object,
    # so that a warning there it no longer finds is cleared at once; without it, only full runs clear
    touched: Callable[[Ctx], Select[Any]] | None = None

    def defaults(self) -> dict[str, ParamValue]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"rule {self.code} has no parameter {name!r}")


@dataclass
class Ctx:
    """Where one evaluation of a rule happens: its parameter values, the evaluation date, the regions it
    covers and, for an incremental run, the newest load the previous run had seen."""

    params: Mapping[str, ParamValue]
    as_of: date
    since: int | None = None  # incremental: only what loads after this load_run wrote; None: everything
    regions: tuple[str, ...] | None = None  # the region codes evaluated; None: every region
    dialect: str = "sqlite"
    upto: int | None = None  # incremental: the newest load it covers
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def yuan(self, name: str) -> int:
        """A parameter in whole yuan, as integer fen."""
        value = self.params[name]
        if not isinstance(value, int):
            raise TypeError(f"parameter {name} is not a whole number of yuan: {value!r}")
        return value * 100

    @property
    def incremental(self) -> bool:
        return self.since is not None

    def in_regions(self, column: Any) -> ColumnElement[bool]:
        """``column`` (a region code) is one this evaluation covers."""
        if self.regions is None:
            return true()
        return column.in_(self.regions)  # type: ignore[no-any-return]

    def new(self, model: Any) -> ColumnElement[bool]:
        """A row of ``model`` that a load after ``since`` (up to ``upto``) wrote (every row in a full run);
        deleted rows included, so that a deletion re-evaluates what it touched. The few loads are named one
        by one: an equality the planner can estimate from its statistics (a range it guesses at a quarter
        of the table, and then reads the table rather than the index)."""
        if self.since is None:
            return true()
        if self.upto is not None and 0 <= self.upto - self.since <= 64:
            return model.src_run_id.in_(list(range(self.since + 1, self.upto + 1)))  # type: ignore[no-any-return]
        return model.src_run_id > self.since  # type: ignore[no-any-return]

    def year_end(self, year: int) -> date:
        """The last day of data in ``year``: 31 December, or the evaluation date in the running year."""
        return min(date(year, 12, 31), self.as_of)
