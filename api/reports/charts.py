"""The HTML report's charts: matplotlib figures drawn off screen and kept as SVG text to inline, so the report
is one file that renders offline.

Text stays text (``svg.fonttype = 'none'``): the reader's browser draws it with its own fonts, Chinese
included, and the file stays small. The figures are laid out with a font that has Chinese glyphs when the
machine has one; without one the layout falls back to DejaVu Sans and matplotlib's missing-glyph warnings
are silenced (the browser still shows the characters). Data never passes through mathtext: a ``$`` in a
region's name is just a character.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from api.reports.model import Report

# fonts with Chinese glyphs, the common ones first: Linux packages, then macOS and Windows
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "PingFang SC",
    "Heiti SC",
    "Microsoft YaHei",
    "SimHei",
)
BLUE, ORANGE, GREY, RED = "#2f6db5", "#e08a1e", "#9aa5b1", "#c0392b"
_lock = threading.Lock()  # rcParams are process-wide: one chart at a time


@cache
def chinese_font() -> str | None:
    """The first font of :data:`CJK_FONTS` the machine has, or None."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in have), None)


def _rc() -> Any:  # matplotlib types the keys as the literal names of its settings
    font = chinese_font()
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": "oversight",  # the same report, the same SVG ids
        "font.family": "sans-serif",
        "font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
        "axes.unicode_minus": False,
        "text.parse_math": False,
        "text.usetex": False,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)


def _svg(draw: Any, width: float, height: float) -> str:
    """The SVG of a figure ``draw(figure)`` fills, without its XML prologue (it is inlined in HTML)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with _lock, matplotlib.rc_context(_rc()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from.*")
        warnings.filterwarnings("ignore", message=r".*missing from font.*")
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasSVG(figure)
        draw(figure)
        out = io.StringIO()
        figure.savefig(out, format="svg")
    return _PROLOGUE.sub("", out.getvalue(), count=1)


def _pct(rate: str | None) -> float:
    """A rate as percent, for drawing only (the tables keep the exact figures)."""
    return float(Decimal(rate) * 100) if rate is not None else 0.0


def _bars_against_progress(labels: Sequence[str], rates: Sequence[str | None], progress: str | None) -> Any:
    def draw(figure: Any) -> None:
        ax = figure.subplots()
        values = [_pct(r) for r in rates]
        line = _pct(progress) if progress is not None else None
        colours = [BLUE if line is None or v >= line else ORANGE for v in values]
        positions = range(len(labels))
        ax.barh(positions, values, color=colours)
        ax.set_yticks(list(positions), labels=list(labels))
        ax.invert_yaxis()
        if line is not None:
            ax.axvline(line, color=RED, linestyle="--", linewidth=1)
            ax.text(line, -0.8, f" 序时进度 time progress {line:.2f}%", color=RED, va="bottom")
        ax.set_xlabel("执行率 execution rate (%)")
        ax.set_xlim(0, max([100.0, *values]) * 1.05)

    return draw


def execution_by_region(report: Report) -> str:
    rows = report.execution.regions
    labels = [f"{r.name or r.key}{' (本级)' if r.own_level else ''}" for r in rows]
    draw = _bars_against_progress(labels, [r.execution_rate for r in rows], report.execution.time_progress)
    return _svg(draw, 8.5, 0.6 + 0.28 * max(len(rows), 3))


def execution_by_fund_type(report: Report) -> str:
    rows = [*report.execution.fund_types, report.execution.total]
    labels = [r.name or "" for r in rows]
    draw = _bars_against_progress(labels, [r.execution_rate for r in rows], report.execution.time_progress)
    return _svg(draw, 8.5, 0.8 + 0.4 * max(len(rows), 3))


def warnings_by_group(report: Report) -> str:
    w = report.warnings
    raised = {r.key: r.count for r in w.by_group.rows if r.key is not None}
    still_open = {r.key: r.count for r in w.open_at_end_by_group}
    groups = sorted(set(raised) | set(still_open))

    def draw(figure: Any) -> None:
        ax = figure.subplots()
        x = range(len(groups))
        ax.bar(
            [i - 0.2 for i in x], [raised.get(g, 0) for g in groups], width=0.4, color=BLUE, label="raised"
        )
        ax.bar(
            [i + 0.2 for i in x], [still_open.get(g, 0) for g in groups], width=0.4, color=GREY, label="open"
        )
        ax.set_xticks(list(x), labels=groups)
        ax.set_ylabel("预警 warnings")
        ax.legend(["本期新增 raised in the period", "期末未办结 open at its end"], frameon=False)

    return _svg(draw, 8.5, 3.2)


def fund_payments(report: Report) -> str:
    funds = report.special_funds.funds
    levels = sorted({lv.level for f in funds for lv in f.levels if lv.level is not None})
    names = {1: "省 province", 2: "市 city", 3: "县 county", 4: "乡 township"}

    def draw(figure: Any) -> None:
        ax = figure.subplots()
        left = [0.0] * len(funds)
        palette = [BLUE, ORANGE, GREY, RED]
        for i, level in enumerate(levels):
            paid = [
                sum(float(Decimal(lv.paid)) for lv in f.levels if lv.level == level) / 10_000 for f in funds
            ]
            ax.barh(
                range(len(funds)), paid, left=left, color=palette[i % 4], label=names.get(level, str(level))
            )
            left = [a + b for a, b in zip(left, paid, strict=True)]
        ax.set_yticks(range(len(funds)), labels=[f.fund.name for f in funds])
        ax.invert_yaxis()
        ax.set_xlabel("支出 paid (万元 10,000 yuan)")
        ax.legend(frameon=False)

    return _svg(draw, 8.5, 0.9 + 0.45 * max(len(funds), 2))


def charts(report: Report) -> dict[str, str]:
    """Every chart of the report that has something to show, by name."""
    out = {}
    if report.execution.fund_types:
        out["fund_types"] = execution_by_fund_type(report)
    if report.execution.regions:
        out["regions"] = execution_by_region(report)
    if report.special_funds.funds:
        out["funds"] = fund_payments(report)
    if report.warnings.by_group.rows or report.warnings.open_at_end_by_group:
        out["warnings"] = warnings_by_group(report)
    return out
