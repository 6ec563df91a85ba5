"""The measures of semantics.md, summed in integer fen and shown as decimal strings of yuan."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field

from connectors.ingest.convert import format_amount

RATE = Decimal("0.0001")


def rate(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` to 4 decimal places (half up); None when the denominator is 0."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class Sums:
    """Measures of a set of records, in fen."""

    budget: int = 0
    transfer_in: int = 0
    transfer_out: int = 0
    paid: int = 0
    plan: int = 0
    payments: int = 0

    def add(self, other: Sums) -> None:
        # spelled out: this runs once per grouped row, thousands of times per breakdown
        self.budget += other.budget
        self.transfer_in += other.transfer_in
        self.transfer_out += other.transfer_out
        self.paid += other.paid
        self.plan += other.plan
        self.payments += other.payments

    def minus(self, other: Sums) -> Sums:
        return Sums(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def is_zero(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def measures(self) -> Measures:
        r = rate(self.paid, self.budget)
        return Measures(
            budget=format_amount(self.budget),
            transfer_in=format_amount(self.transfer_in),
            transfer_out=format_amount(self.transfer_out),
            paid=format_amount(self.paid),
            plan=format_amount(self.plan),
            execution_rate=None if r is None else str(r),
            payments=self.payments,
        )


class Measures(BaseModel):
    """Amounts are yuan with two decimals, as strings (``"1234.50"``); never floats."""

    budget: str = Field(description="指标数: current amount of indicators assigned to budget units")
    transfer_in: str = Field(description="上级下达: transfers issued outside the scope to a region inside it")
    transfer_out: str = Field(
        description="转移下达: transfers issued inside the scope to a region outside it"
    )
    paid: str = Field(description="支出数: treasury payments")
    plan: str = Field(description="用款计划: approved payment plans of the indicators")
    execution_rate: str | None = Field(description="执行率: paid / budget, 4 decimals; null when budget is 0")
    payments: int = Field(description="number of treasury payments")
