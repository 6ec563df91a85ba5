"""How records name each other: the join conditions between feed tables, written once.

Units (预算单位) and projects are keyed by region and code, so a record names its unit or project through
its own ``mof_div_code``; indicators are named by ``bgt_id``. ``live`` leaves out soft-deleted targets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_


def unit_of(record: Any, unit: Any, *, live: bool = True) -> ColumnElement[bool]:
    """``unit`` (an Agency alias) is the budget unit of ``record``."""
    condition = and_(unit.mof_div_code == record.mof_div_code, unit.agency_code == record.agency_code)
    return and_(condition, unit.is_deleted.is_(False)) if live else condition


def project_of(record: Any, project: Any, *, live: bool = True) -> ColumnElement[bool]:
    """``project`` (a Project alias) is the project of ``record``."""
    condition = and_(project.mof_div_code == record.mof_div_code, project.pro_code == record.pro_code)
    return and_(condition, project.is_deleted.is_(False)) if live else condition


def indicator_of(record: Any, indicator: Any, *, live: bool = True) -> ColumnElement[bool]:
    """``indicator`` (a BgtInfo alias) is the indicator ``record`` names by ``bgt_id``."""
    condition = indicator.bgt_id == record.bgt_id
    return and_(condition, indicator.is_deleted.is_(False)) if live else condition
