"""The rule catalogue as a Markdown table, for docs/monitoring.md (``python -m monitor.catalogue``)."""

from __future__ import annotations

from pathlib import Path

from monitor.rule import ParamValue
from monitor.rules import RULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "monitoring.md"
BEGIN, END = "<!-- catalogue:begin -->", "<!-- catalogue:end -->"


def _value(v: ParamValue) -> str:
    return ", ".join(v) if isinstance(v, tuple) else str(v)


def table() -> str:
    lines = [
        "| code | group | rule | level | object | fires when (defaults) | legal basis |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in RULES:
        when = r.fires_when.format_map({p.name: f"`{_value(p.default)}`" for p in r.params})
        lines.append(
            f"| {r.code} `{r.key}` | {r.group} | {r.name} ({r.title}) | {r.level.chinese} {r.level.value} "
            f"| {r.object_type.value} | {when} | {r.basis} |"
        )
    return "\n".join(lines)


def render(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
