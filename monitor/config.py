"""The monitoring settings and the rule configuration file (per-rule and per-region overrides).

The file (TOML, named by ``OVERSIGHT_MONITOR_CONFIG``) may switch a rule off, change its level or the
regions it applies to, and override any parameter for the whole province or for one region's subtree;
the override of the nearest region above a record wins::

    [rules.USE-01]                 # a rule by code or by key (large_cash)
    level = "red"
    params = { single_limit_yuan = 30000 }

    [rules.USE-01.region.410100000]  # 郑州市 and every region below it
    single_limit_yuan = 20000

    [rules.ACC-01]
    enabled = false
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor.rule import Level, ParamValue, Rule


class MonitorSettings(BaseSettings):
    """Dynamic monitoring: the rule configuration file and how warnings are handled."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_MONITOR_", extra="ignore")

    config: Path | None = Field(
        default=None, description="TOML file of per-rule and per-region overrides (monitor/config.py)."
    )
    handling_days: int = Field(
        default=10,
        ge=1,
        description="Working days a warning may stay 待核实 or 整改中 before it counts as overdue.",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=32,
        description="Rules evaluated at once, each in a connection of its own (0: twice the cores, up to 4).",
    )
    escalation_months: int = Field(
        default=3,
        ge=1,
        description="Consecutive month-ends with open warnings that put a region on the 专项督查 list.",
    )


class ConfigError(ValueError):
    """The configuration file names an unknown rule or parameter, or a value of the wrong type."""


@dataclass(frozen=True)
class RuleConfig:
    """One rule as configured: on or off, its level, regions, parameters and per-region overrides."""

    rule: Rule
    enabled: bool = True
    level: Level | None = None
    regions: tuple[str, ...] | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)
    by_region: dict[str, dict[str, ParamValue]] = field(default_factory=dict)

    @property
    def effective_level(self) -> Level:
        return self.level or self.rule.level

    @property
    def applies_to(self) -> tuple[str, ...]:
        return self.regions if self.regions is not None else self.rule.regions

    def values(self, overrides: dict[str, ParamValue] | None = None) -> dict[str, ParamValue]:
        return {**self.rule.defaults(), **self.params, **(overrides or {})}


def _region(code: object) -> str:
    text = str(code)
    if len(text) != 9 or not text.isdigit():
        raise ConfigError(f"{text!r} is not a 9-digit mof_div_code")
    return text


def _params(rule: Rule, raw: object, where: str) -> dict[str, ParamValue]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of parameters")
    out: dict[str, ParamValue] = {}
    for name, value in raw.items():
        try:
            out[name] = rule.param(name).coerce(value)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc.args[0]}") from None
    return out


def parse_config(raw: dict[str, object], rules: tuple[Rule, ...]) -> dict[str, RuleConfig]:
    """The configuration of every rule (by code), from the file's parsed TOML."""
    by_name = {r.code: r for r in rules} | {r.key: r for r in rules}
    configs = {r.code: RuleConfig(r) for r in rules}
    section = raw.get("rules", {})
    if not isinstance(section, dict):
        raise ConfigError("[rules] must be a table")
    for name, body in section.items():
        rule = by_name.get(name)
        if rule is None:
            raise ConfigError(f"[rules.{name}]: no such rule (see `oversight rules list`)")
        if not isinstance(body, dict):
            raise ConfigError(f"[rules.{name}] must be a table")
        unknown = set(body) - {"enabled", "level", "regions", "params", "region"}
        if unknown:
            raise ConfigError(f"[rules.{name}]: unknown keys {sorted(unknown)}")
        level = body.get("level")
        try:
            parsed_level = Level(level) if level is not None else None
        except ValueError:
            raise ConfigError(f"[rules.{name}]: level must be one of {[lv.value for lv in Level]}") from None
        regions = body.get("regions")
        if regions is not None and not isinstance(regions, list):
            raise ConfigError(f"[rules.{name}]: regions must be a list of mof_div_code")
        by_region_raw = body.get("region", {})
        if not isinstance(by_region_raw, dict):
            raise ConfigError(f"[rules.{name}.region] must be a table of regions")
        configs[rule.code] = RuleConfig(
            rule,
            enabled=bool(body.get("enabled", True)),
            level=parsed_level,
            regions=tuple(_region(c) for c in regions) if regions is not None else None,
            params=_params(rule, body.get("params", {}), f"[rules.{name}.params]"),
            by_region={
                _region(code): _params(rule, values, f"[rules.{name}.region.{code}]")
                for code, values in by_region_raw.items()
            },
        )
    return configs


def load_config(rules: tuple[Rule, ...], path: Path | None = None) -> dict[str, RuleConfig]:
    """The configuration file named by the settings (or ``path``); every rule at its defaults without one."""
    path = path or MonitorSettings().config
    if path is None:
        return {r.code: RuleConfig(r) for r in rules}
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the monitoring configuration {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(raw, rules)
