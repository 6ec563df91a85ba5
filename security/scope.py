"""The caller's scope: the region subtree it may see and whether it holds personal-data clearance.

Every service function takes a :class:`Scope` and applies it inside its SQL. Until identities exist (the
security issue) the API hands every caller :func:`whole_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from schema.models import RegionClosure


@dataclass(frozen=True, slots=True)
class Scope:
    region: str | None  # root of the visible subtree; None: every region
    pii: bool = False  # may see persons' names, ID numbers and accounts unmasked

    def regions(self, column: Any) -> ColumnElement[bool]:
        """``column`` names a region inside the scope."""
        if self.region is None:
            return column.is_not(None)
        subtree = select(RegionClosure.descendant).where(RegionClosure.ancestor == self.region)
        return column.in_(subtree)

    def indicators(self, model: Any) -> ColumnElement[bool]:
        """An indicator the caller may see: issued inside its jurisdiction, or passed down into it."""
        return or_(self.regions(model.mof_div_code), self.regions(model.rec_div_code))


def whole_dataset() -> Scope:
    return Scope(region=None, pii=False)
