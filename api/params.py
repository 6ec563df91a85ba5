"""Query parameters shared by many routes, declared once with their checks and descriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.pagination import DEFAULT_LIMIT, MAX_LIMIT

# Text a query or path parameter may hold: no control characters (PostgreSQL refuses NUL in text).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"

Year = Annotated[
    int | None, Query(ge=1949, le=2100, description="Fiscal year; default: the latest year with data")
]
Region = Annotated[
    str | None,
    Query(pattern=r"^\d{9}$", description="9-digit finance region code; its whole subtree is the scope"),
]
OwnLevel = Annotated[bool, Query(description="Only the region's own level (本级), not the regions below it")]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}")]
Code = Annotated[str | None, Query(min_length=1, max_length=80, pattern=PRINTABLE)]

__all__ = ["PRINTABLE", "Year", "Region", "OwnLevel", "Cursor", "Limit", "Code", "DEFAULT_LIMIT", "MAX_LIMIT"]
