"""Small figures the report sections share: gaps in points, nearest-rank percentiles, amounts for people."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

POINT = Decimal("0.01")


def gap_points(rate: Decimal | None, progress: Decimal | None) -> str | None:
    """Execution rate minus time progress in percentage points (2 places): negative is behind schedule."""
    if rate is None or progress is None:
        return None
    return str(((rate - progress) * 100).quantize(POINT, rounding=ROUND_HALF_UP))


def nearest_rank(values: Sequence[int], share: float) -> int | None:
    """The nearest-rank percentile: a value that occurred, so a median of working days stays whole."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def grouped(amount: str | None) -> str:
    """A yuan string with thousands separators (``-1234567.80`` → ``-1,234,567.80``), for tables read by
    people; the digits are the API's, untouched by any float."""
    if amount is None:
        return ""
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, _, frac = digits.partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def percent(rate: str | None) -> str:
    """A 4-place rate as a percentage with 2 places (``0.4567`` → ``45.67%``)."""
    if rate is None:
        return ""
    return f"{(Decimal(rate) * 100).quantize(POINT, rounding=ROUND_HALF_UP)}%"
