"""Every command and every setting is documented in the README (Datasette's test_docs habit)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from pydantic_settings import BaseSettings

from api.cache import CacheSettings
from api.exports import ExportSettings
from api.graphql.schema import GraphQLSettings
from cli.main import app
from connectors.delivery.config import FeedbackSettings
from connectors.sync.config import SyncSettings
from monitor.config import MonitorSettings
from schema.db import DatabaseSettings
from security.audit import AuditSettings
from security.pseudonym import PseudonymSettings
from security.ratelimit import RateLimitSettings
from security.tokens import AuthSettings

SETTINGS: list[type[BaseSettings]] = [
    DatabaseSettings,
    PseudonymSettings,
    CacheSettings,
    ExportSettings,
    GraphQLSettings,
    RateLimitSettings,
    AuthSettings,
    AuditSettings,
    MonitorSettings,
    SyncSettings,
    FeedbackSettings,
]
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: typer.Typer, prefix: str = "oversight") -> list[str]:
    click_group = typer.main.get_command(group)
    names = []
    for name, command in click_group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            names += [f"{prefix} {name} {sub}" for sub in command.commands]
        else:
            names.append(f"{prefix} {name}")
    return names


@pytest.mark.parametrize("command", _commands(app))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"`{command}" in README, f"document `{command}` in the README's command table"


@pytest.mark.parametrize(
    "variable",
    [f"{cls.model_config['env_prefix']}{name.upper()}" for cls in SETTINGS for name in cls.model_fields],
)
def test_every_setting_is_in_the_readme(variable: str) -> None:
    assert f"`{variable}`" in README, f"document {variable} in the README's settings table"


@pytest.mark.parametrize("cls", SETTINGS)
def test_every_setting_has_a_description(cls: type) -> None:
    assert all(field.description for field in cls.model_fields.values())  # type: ignore[attr-defined]


def test_the_monitoring_catalogue_in_the_docs_is_the_code_s() -> None:
    from monitor.catalogue import DOC, render

    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "regenerate it: python -m monitor.catalogue"
