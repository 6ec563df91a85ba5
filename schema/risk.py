"""外部信用与风险信息: credit and risk records from market supervision, courts, tax, police, housing, HR."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index
from sqlalchemy.orm import Mapped

from schema.base import Base, Kind, Provenance, feed


class ExtRisk(Provenance, Base):
    __tablename__ = "ext_risk"
    __feed_key__ = ("subject_id", "risk_type", "source")

    subject_id_type: Mapped[str] = feed(Kind.CODE, required=True, choices=("uscc", "iden_no"))
    subject_id: Mapped[str] = feed(Kind.CODE, key=True)
    subject_name: Mapped[str | None] = feed(Kind.TEXT)
    risk_type: Mapped[str] = feed(Kind.CODE, key=True)  # open list; code_sets.csv names the known ones
    source: Mapped[str] = feed(Kind.CODE, key=True)
    valid_from: Mapped[date | None] = feed(Kind.DATE)
    valid_to: Mapped[date | None] = feed(Kind.DATE)

    __table_args__ = (Index("ix_ext_risk_type", "risk_type", "subject_id_type"),)
