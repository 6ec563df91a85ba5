"""Rules of this group (see monitor/rules/__init__.py)."""

from __future__ import annotations

from monitor.rule import Rule

RULES: tuple[Rule, ...] = ()
