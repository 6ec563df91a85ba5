"""Reference data shipped with the project: classification codes by year and the feed's code sets."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base


class Classification(Base):
    """政府收支分类科目: exp_func (支出功能分类), gov_eco (5xx), dep_eco (3xx), income (收入分类)."""

    __tablename__ = "classification"

    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_year: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[int] = mapped_column(Integer, nullable=False)


class CodeSet(Base):
    """A canonical code of feeds.md (fund_type_code, set_mode_code, payee_type, …) with its name."""

    __tablename__ = "code_set"

    code_set: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
