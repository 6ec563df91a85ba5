"""Reference data and data freshness: classification codes by year, and the last load of each source."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from schema.classification import Classification
from schema.loading import LoadRun, LoadTableReport


class Scheme(StrEnum):
    exp_func = "exp_func"  # 支出功能分类
    gov_eco = "gov_eco"  # 政府预算支出经济分类
    dep_eco = "dep_eco"  # 部门预算支出经济分类
    income = "income"  # 收入分类


class ClassificationCode(BaseModel):
    code: str
    name: str
    level: int  # 1 类, 2 款, 3 项


class ClassificationList(BaseModel):
    scheme: Scheme
    year: int
    rows: list[ClassificationCode]


class SourceStatus(BaseModel):
    source: str
    last_run: int
    status: str  # of the last run: done, running, failed, interrupted
    last_success_at: datetime | None  # UTC
    data_as_of: datetime | None  # the batch's extracted_at (UTC), where the source said
    lag_seconds: int | None  # how far behind now the data is
    rows: int  # rows read by the last successful run
    quarantined: int


def classifications(
    session: Session, scheme: Scheme, year: int, parent: str | None, level: int | None
) -> ClassificationList:
    query = select(Classification.code, Classification.name, Classification.level).where(
        Classification.scheme == scheme.value,
        Classification.first_year <= year,
        or_(Classification.last_year.is_(None), Classification.last_year >= year),
    )
    if parent:
        query = query.where(
            Classification.code.startswith(parent, autoescape=True), Classification.code != parent
        )
    if level:
        query = query.where(Classification.level == level)
    rows = [
        ClassificationCode(code=c, name=n, level=lv) for c, n, lv in session.execute(query.order_by("code"))
    ]
    return ClassificationList(scheme=scheme, year=year, rows=rows)


def sources(session: Session, now: datetime | None = None) -> list[SourceStatus]:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    latest = select(LoadRun.source, func.max(LoadRun.id).label("run")).group_by(LoadRun.source).subquery()
    done = (
        select(LoadRun.source, func.max(LoadRun.id).label("run"))
        .where(LoadRun.status == "done")
        .group_by(LoadRun.source)
        .subquery()
    )
    out = []
    for source, last_id, done_id in session.execute(
        select(latest.c.source, latest.c.run, done.c.run)
        .outerjoin(done, done.c.source == latest.c.source)
        .order_by(latest.c.source)
    ):
        last = session.get_one(LoadRun, last_id)
        good = session.get(LoadRun, done_id) if done_id else None
        rows, quarantined = (0, 0)
        if good is not None:
            rows, quarantined = session.execute(
                select(
                    func.coalesce(func.sum(LoadTableReport.rows_read), 0),
                    func.coalesce(func.sum(LoadTableReport.quarantined), 0),
                ).where(LoadTableReport.run_id == good.id)
            ).one()
        as_of = good.extracted_at if good else None
        out.append(
            SourceStatus(
                source=source,
                last_run=last.id,
                status=last.status,
                last_success_at=good.finished_at if good else None,
                data_as_of=as_of,
                lag_seconds=int((now - as_of).total_seconds()) if as_of else None,
                rows=rows,
                quarantined=quarantined,
            )
        )
    return out
