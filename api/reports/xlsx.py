"""The report as a workbook: a cover sheet, then one sheet per section, each one flat table (the first column
says which part of the section a row belongs to) with its header row frozen and filters on, so a reader can
sort and sum it. Amounts are numbers (``#,##0.00``, written from the exact decimal, never a float), rates
numbers shown as percentages, dates real dates."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from api.exports.writers import ILLEGAL_XML
from api.reports.model import ExecutionRow, Report
from monitor.ledger import Figures

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEETS = (
    "封面 Cover",
    "1 执行 Execution",
    "2 专项资金 Special funds",
    "3 预警 Warnings",
    "4 询问函 Inquiries",
    "5 数据时效 Freshness",
)
AMOUNT, RATE, POINTS, WHOLE, DAY, TIME = (
    "#,##0.00",
    "0.00%",
    "0.00",
    "#,##0",
    "yyyy-mm-dd",
    "yyyy-mm-dd hh:mm",
)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DCE6F0")


@dataclass(frozen=True, slots=True)
class Col:
    title: str
    fmt: str | None = None  # a number format; None: text as it is
    width: float = 14


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _rate(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _sheet(book: Workbook, title: str, cols: Sequence[Col], rows: Iterable[Sequence[Any]]) -> None:
    ws: WriteOnlyWorksheet = book.create_sheet(title)
    for i, col in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    ws.freeze_panes = "A2"
    header = []
    for col in cols:
        cell = WriteOnlyCell(ws, col.title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        cells = []
        for col, value in zip(cols, row, strict=True):
            cell = _cell(ws, value)
            if col.fmt and value is not None:
                cell.number_format = col.fmt
            cells.append(cell)
        ws.append(cells)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{count + 1}"


def _cell(ws: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    """A cell of data: a text is only ever text (openpyxl would store one starting with ``=`` as a formula,
    which a unit's or a fund's name from the source data must never become) and loses the control
    characters an XLSX cannot hold (rather than failing the whole report)."""
    if isinstance(value, str):
        value = ILLEGAL_XML.sub("\ufffd", value)
        cell = WriteOnlyCell(ws, value)
        cell.data_type = "s"
        return cell
    return WriteOnlyCell(ws, value)


def _cover(book: Workbook, r: Report) -> None:
    rows: list[tuple[str, Any, str | None]] = [
        ("报告 Report", "预算执行监控报告 periodic oversight report", None),
        ("期间 Period", r.period.label, None),
        ("类型 Kind", r.period.kind.value, None),
        ("起 First day", r.period.first, DAY),
        ("止 Last day", r.period.last, DAY),
        ("地区 Region", r.region, None),
        ("地区名称 Region name", r.region_name, None),
        ("预算年度 Fiscal year", r.year, "0"),
        ("数据截至 As of", r.as_of, DAY),
        ("最新支付日期 Newest payment", r.freshness.newest_data_date, DAY),
        ("序时进度 Time progress", _rate(r.execution.time_progress), RATE),
        ("生成时间 Generated (UTC)", r.generated_at, TIME),
        ("金额单位 Amounts", "元 yuan", None),
    ]
    rows += [(f"工作表 Sheet {i}", name, None) for i, name in enumerate(SHEETS[1:], start=1)]
    ws: WriteOnlyWorksheet = book.create_sheet(SHEETS[0])
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 30, 44
    for item, value, fmt in rows:
        cell = _cell(ws, value)
        if fmt and value is not None:
            cell.number_format = fmt
        ws.append([WriteOnlyCell(ws, item), cell])


EXECUTION = (
    Col("表 Table", width=12),
    Col("代码 Key", width=16),
    Col("名称 Name", width=30),
    Col("本级 Own level", width=8),
    Col("指标数 Budget", AMOUNT, 18),
    Col("支出数 Paid", AMOUNT, 18),
    Col("执行率 Rate", RATE, 10),
    Col("序时进度 Progress", RATE, 10),
    Col("差距 Gap (pts)", POINTS, 10),
    Col("收支 Side", width=9),
    Col("调整预算 Adjusted", AMOUNT, 18),
    Col("月份 Month", "0", 8),
)


def _execution_rows(r: Report) -> Iterable[list[Any]]:
    e = r.execution

    def line(table: str, x: ExecutionRow) -> list[Any]:
        return [
            table,
            x.key,
            x.name,
            "Y" if x.own_level else None,
            _money(x.budget),
            _money(x.paid),
            _rate(x.execution_rate),
            _rate(x.time_progress),
            _rate(x.gap_points),
            None,
            None,
            None,
        ]

    for x in e.fund_types:
        yield line("fund_type", x)
    yield line("total", e.total)
    for x in e.regions:
        yield line("region", x)
    for x in e.departments:
        yield line("department", x)
    for g in e.reported:  # reported totals: budget is 年初预算, paid the execution reported
        yield [
            "reported",
            g.fund_type,
            g.name,
            None,
            _money(g.budget),
            _money(g.executed),
            _rate(g.execution_rate),
            None,
            None,
            g.side,
            _money(g.adjusted),
            g.month,
        ]


FUNDS = (
    Col("专项资金 Fund", width=14),
    Col("名称 Name", width=28),
    Col("表 Table", width=8),
    Col("层级 Level", "0", 7),
    Col("地区 Region", width=11),
    Col("地区名称 Region name", width=16),
    Col("地区数 Regions", WHOLE, 8),
    Col("分配方案 Allocated", AMOUNT, 16),
    Col("接收 Received", AMOUNT, 16),
    Col("下达 Passed on", AMOUNT, 16),
    Col("分配到单位 Assigned", AMOUNT, 16),
    Col("滞留 Undistributed", AMOUNT, 16),
    Col("支出 Paid", AMOUNT, 16),
    Col("笔数 Payments", WHOLE, 9),
    Col("方案→指标 Plan→indicator days", "0", 11),
    Col("接收 Receipt days", "0", 10),
    Col("下达 Pass-on days", "0", 10),
    Col("支付 To-payment days", "0", 10),
    Col("方案→指标 max", "0", 10),
    Col("接收 max", "0", 10),
    Col("下达 max", "0", 10),
    Col("支付 max", "0", 10),
)


def _fund_rows(r: Report) -> Iterable[list[Any]]:
    """Per fund: a row per level (lags: median, and max in the last four columns), then a row per region."""
    for f in r.special_funds.funds:
        lags = {lag.level: lag for lag in f.lags}
        for lv in f.levels:
            lag = lags.get(lv.level)
            spans = (
                [lag.plan_to_indicator_days, lag.receipt_days, lag.pass_on_days, lag.to_payment_days]
                if lag
                else []
            )
            yield [
                f.fund.code,
                f.fund.name,
                "level",
                lv.level,
                None,
                None,
                lv.regions,
                _money(lv.allocated),
                _money(lv.received),
                _money(lv.passed_on),
                _money(lv.assigned),
                _money(lv.undistributed),
                _money(lv.paid),
                None,
                *([s[0] for s in spans] or [None] * 4),
                *([s[1] for s in spans] or [None] * 4),
            ]
        for x in f.rows:
            yield [
                f.fund.code,
                f.fund.name,
                "region",
                x.level,
                x.region,
                x.region_name,
                None,
                _money(x.allocated),
                _money(x.received),
                _money(x.passed_on),
                _money(x.assigned),
                _money(x.undistributed),
                _money(x.paid),
                x.payments,
                x.plan_to_indicator_days,
                x.receipt_days,
                x.pass_on_days,
                x.to_payment_days,
                None,
                None,
                None,
                None,
            ]


WARNINGS = (
    Col("表 Table", width=16),
    Col("代码 Key", width=14),
    Col("名称 Name", width=20),
    Col("数量 Count", WHOLE, 9),
    Col("金额 Amount", AMOUNT, 16),
    Col("已处理 Handled", WHOLE, 9),
    Col("处理率 Handling rate", RATE, 10),
    Col("已办结 Closed", WHOLE, 9),
    Col("逾期 Overdue", WHOLE, 9),
    Col("各月末未办结 Open at month ends", width=30),
    Col("最早预警 Oldest warning", "0", 10),
    Col("规则 Rule", width=10),
    Col("发生日 Occurred", DAY, 11),
    Col("最早预警金额 Oldest amount", AMOUNT, 16),
)


def _stats(table: str, key: str | None, name: str | None, s: Figures) -> list[Any]:
    return [
        table,
        key,
        name,
        s.count,
        _money(s.amount),
        s.handled,
        _rate(s.handling_rate),
        s.closed,
        s.overdue,
        None,
        None,
        None,
        None,
        None,
    ]


def _warning_rows(r: Report) -> Iterable[list[Any]]:
    w = r.warnings
    for s in w.by_group.rows:
        yield _stats("raised_by_group", s.key, s.name, s)
    yield _stats("raised_total", None, "合计", w.by_group.total)
    for s in w.by_region.rows:
        yield _stats("raised_by_region", s.key, s.name, s)
    for table, rows in (
        ("open_by_group", w.open_at_end_by_group),
        ("open_by_region", w.open_at_end_by_region),
    ):
        for o in rows:
            yield [table, o.key, o.name, o.count, _money(o.amount), *[None] * 9]
    yield ["open_total", None, "合计", w.open_at_end.count, _money(w.open_at_end.amount), *[None] * 9]
    for e in w.escalations:
        months = ", ".join(f"{m.month}: {m.open}" for m in e.months)
        yield [
            "escalation",
            e.region,
            e.region_name,
            e.months[-1].open if e.months else None,
            *[None] * 5,
            months,
            e.oldest_id,
            e.oldest_rule,
            e.oldest_occurred_on,
            _money(e.oldest_amount),
        ]


INQUIRIES = (
    Col("地区 Region", width=12),
    Col("名称 Name", width=16),
    Col("本级 Own level", width=8),
    Col("提出 Raised", WHOLE, 9),
    Col("答复 Answered", WHOLE, 9),
    Col("采纳 Accepted", WHOLE, 9),
    Col("退回 Returned", WHOLE, 9),
    Col("逾期 Overdue", WHOLE, 9),
    Col("答复用时中位数 Median (working days)", "0", 12),
    Col("P90 (working days)", "0", 12),
)

FRESHNESS = (
    Col("来源 Source", width=16),
    Col("状态 Status", width=10),
    Col("最近运行 Last run", "0", 9),
    Col("最近成功 Last success (UTC)", TIME, 18),
    Col("数据时点 Data as of (UTC)", TIME, 18),
    Col("滞后 Lag (s)", WHOLE, 12),
    Col("行数 Rows", WHOLE, 12),
    Col("隔离 Quarantined", WHOLE, 10),
    Col("最近错误 Last error", width=40),
)


def _naive(value: datetime | None) -> datetime | None:
    """Excel has no time zones: the UTC time the API gives, as it is."""
    return value.replace(tzinfo=None) if value is not None else None


def render_xlsx(report: Report) -> bytes:
    book = Workbook(write_only=True)
    _cover(book, report)
    _sheet(book, SHEETS[1], EXECUTION, _execution_rows(report))
    _sheet(book, SHEETS[2], FUNDS, _fund_rows(report))
    _sheet(book, SHEETS[3], WARNINGS, _warning_rows(report))
    inquiries = [*report.inquiries.regions, report.inquiries.total]
    _sheet(
        book,
        SHEETS[4],
        INQUIRIES,
        (
            [
                q.key,
                q.name,
                "Y" if q.own_level else None,
                q.raised,
                q.answered,
                q.accepted,
                q.returned,
                q.overdue,
                q.answer_days_median,
                q.answer_days_p90,
            ]
            for q in inquiries
        ),
    )
    _sheet(
        book,
        SHEETS[5],
        FRESHNESS,
        (
            [
                s.source,
                s.status,
                s.last_run,
                _naive(s.last_success_at),
                _naive(s.data_as_of),
                s.lag_seconds,
                s.rows,
                s.quarantined,
                s.last_error,
            ]
            for s in report.freshness.sources
        ),
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
