"""Reference data and data freshness: classification codes by year, and the last load of each source."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from schema.classification import Classification
from schema.loading import LoadRun, LoadTableReport
from schema.sync import SyncState


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


class StreamStatus(BaseModel):
    """One stream of a connector source (``oversight sync``): where its bookmark stands."""

    stream: str
    table: str  # the feed table it lands in
    status: str  # ok | failed | running
    last_success_at: datetime | None  # UTC, end of the last successful sync
    last_attempt_at: datetime | None  # UTC
    rows: int  # records read by the last successful sync
    rows_total: int  # records read by every sync so far
    cursor: str | None  # the bookmark: the newest change stamp stored (or, for a drop folder, the last batch)
    source_cursor: str | None  # the newest change stamp the source reported at the last attempt
    lag_seconds: int | None  # how far the stored rows are behind the source's newest change
    last_error: str | None
    last_error_at: datetime | None  # UTC


class SourceStatus(BaseModel):
    source: str
    last_run: int | None  # the last load or sync run (None: a source that has never got as far)
    status: str  # of the last run: done, running, failed, interrupted
    last_success_at: datetime | None  # UTC
    data_as_of: datetime | None  # the batch's extracted_at, or the time a sync read the source (UTC)
    lag_seconds: int | None  # how far behind now the data is
    rows: int  # rows read by the last successful run
    quarantined: int
    last_error: str | None  # of the last run, or of a stream, whichever is newer
    streams: list[StreamStatus]  # for a connector source; empty for batches loaded by hand


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


def _lag(cursor: str | None, newest: str | None) -> int | None:
    if not cursor or not newest:
        return None
    try:
        a, b = datetime.fromisoformat(cursor), datetime.fromisoformat(newest)
        return max(0, int((b - a).total_seconds()))
    except (ValueError, TypeError):  # a batch name, a number, or naive against aware
        return None


def _streams(session: Session) -> dict[str, list[StreamStatus]]:
    out: dict[str, list[StreamStatus]] = {}
    for st in session.scalars(select(SyncState).order_by(SyncState.source, SyncState.stream)):
        out.setdefault(st.source, []).append(
            StreamStatus(
                stream=st.stream,
                table=st.table_name,
                status=st.status,
                last_success_at=st.last_success_at,
                last_attempt_at=st.last_attempt_at,
                rows=st.rows_last,
                rows_total=st.rows_total,
                cursor=st.cursor,
                source_cursor=st.source_cursor,
                lag_seconds=_lag(st.cursor, st.source_cursor),
                last_error=st.last_error,
                last_error_at=st.last_error_at,
            )
        )
    return out


def sources(session: Session, now: datetime | None = None) -> list[SourceStatus]:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    streams = _streams(session)
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
        mine = streams.pop(source, [])
        # a stream's error is the connector's own account of what the source did; a run's error may be any
        # exception's text (with values from the warehouse), which stays in the log and `oversight runs`
        errors = [(s.last_error_at, s.last_error) for s in mine if s.status == "failed" and s.last_error]
        if last.status == "failed" and not errors:
            errors.append((last.finished_at, "the last run failed; see the service log or `oversight runs`"))
        errors.sort(key=lambda e: e[0] or datetime.min)
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
                last_error=errors[-1][1] if errors else None,
                streams=mine,
            )
        )
    for source, mine in streams.items():  # a connector that has failed before its first run got going
        failed = [s for s in mine if s.last_error]
        out.append(
            SourceStatus(
                source=source,
                last_run=None,
                status="failed" if failed else "never",
                last_success_at=None,
                data_as_of=None,
                lag_seconds=None,
                rows=0,
                quarantined=0,
                last_error=failed[-1].last_error if failed else None,
                streams=mine,
            )
        )
    return sorted(out, key=lambda s: s.source)
