"""``Money``: an amount in yuan, as a decimal string with two decimals; never a float. The schema maps
the ``Money`` type to the ``MONEY`` scalar (``StrawberryConfig.scalar_map``)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry

from connectors.ingest.convert import BadValue, format_amount, parse_amount


def _parse(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('Money is a decimal string of yuan, like "1234.50", never a number')
    try:
        return format_amount(parse_amount(value.strip()))
    except BadValue as exc:
        raise ValueError(f"Money: {exc}") from None


Money = NewType("Money", str)
MONEY = strawberry.scalar(
    name="Money",
    description='An amount in yuan as a decimal string with two decimals ("1234.50"): exact, never a float.',
    serialize=str,
    parse_value=_parse,
)
