"""The report as one self-contained HTML page (Jinja2, autoescaped; CSS and SVG charts inline)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from api.reports.charts import charts
from api.reports.model import Report
from api.reports.numbers import grouped, percent

TOP_REGIONS = 30  # warning rows by region on the page; the XLSX and JSON keep every region
KINDS = {"week": "周报", "month": "月报", "quarter": "季报", "year": "年报"}
LEVELS = {1: "省级 province", 2: "市级 city", 3: "县级 county", 4: "乡级 township", None: "—"}


def _days(span: list[int | None]) -> str:
    median, longest = span
    return "" if median is None else f"{median} / {longest}"


def _gap_class(gap: str | None) -> str:
    if gap is None:
        return ""
    return "behind" if gap.startswith("-") else "ahead"


def _lag(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(seconds, 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("api.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(yuan=grouped, pct=percent, days=_days, gap_class=_gap_class, lag=_lag)
    return env


def render_html(report: Report) -> str:
    drawn = {
        name: Markup(svg) for name, svg in charts(report).items()
    }  # matplotlib escapes the text it draws
    top = sorted(report.warnings.by_region.rows, key=lambda s: (-s.count, s.key or ""))[:TOP_REGIONS]
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            charts=_Charts(drawn),
            kinds=KINDS,
            levels=LEVELS,
            top_regions=top,
        )
    )


class _Charts(dict[str, Markup]):
    """The charts by name; one the report has nothing to draw for is empty (StrictUndefined elsewhere)."""

    def __getattr__(self, name: str) -> Markup:
        return self.get(name, Markup(""))
