"""The feedback configuration file: inquiry deadlines, channels and subscriptions (TOML).

::

    [inquiries]
    deadline_days = 5                     # working days to answer (default 5)
    [inquiries.deadline_days_by_region]   # per region subtree; the nearest configured ancestor wins
    "330100000" = 7

    [channels.czj-hook]                   # a signed webhook (Standard Webhooks)
    type = "webhook"
    url = "https://oa.czj.example.gov.cn/oversight/events"
    secrets = ["${CZJ_HOOK_SECRET}", "${CZJ_HOOK_SECRET_OLD:-}"]   # two while a secret is rotated
    callback_region = "330100000"         # its signed callbacks answer as that region's finance bureau

    [channels.mq]
    type = "rabbitmq"
    url = "amqp://${MQ_USER}:${MQ_PASSWORD}@mq.example.gov.cn:5672/%2F"
    queue = "oversight.events"

    [[subscriptions]]                     # which events go to which channel, for which region and body
    channel = "czj-hook"
    events = ["warning.raised", "inquiry.raised", "inquiry.returned", "inquiry.overdue"]
    min_level = "orange"                  # warnings: this level or above
    regions = ["330100000"]               # region subtrees (default: every region)
    bodies = ["finance"]                  # the bodies the event is addressed to (default: any)

Secrets come from the environment (``${VAR}``, ``${VAR:-default}``); a mistake is refused naming where
it is. The channel types are plugins (:data:`CHANNEL_TYPES`).
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.channels.base import Channel, ChannelConfigError
from connectors.delivery.events import EVENT_TYPES, LEVELS
from connectors.sync.config import ConfigError, expand


class FeedbackSettings(BaseSettings):
    """Inquiries and the delivery of events to outside channels."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_FEEDBACK_", extra="ignore")

    config: Path = Field(
        default=Path("oversight-feedback.toml"),
        description="TOML file of inquiry deadlines, channels and subscriptions "
        "(connectors/delivery/config.py); none: no channels, 5 working days.",
    )
    max_attempts: int = Field(
        default=12, ge=1, description="Delivery attempts of one event before it may go to the dead letters."
    )
    dead_after_s: int = Field(
        default=86_400,
        ge=0,
        description="Least age of an event before a failing one goes to the dead letters (with "
        "max_attempts): a receiver's outage shorter than this only delays delivery.",
    )
    backoff_base_ms: int = Field(
        default=1000, ge=1, description="First retry's delay; each later one doubles it (full jitter)."
    )
    backoff_max_s: int = Field(default=900, ge=1, description="Longest delay between two attempts.")
    batch: int = Field(default=500, ge=1, le=10_000, description="Events one dispatcher claims at a time.")
    lease_s: int = Field(
        default=120,
        ge=1,
        description="How long a claimed event is reserved for its dispatcher; one that dies mid-batch "
        "leaves its events to be delivered again by another after this.",
    )
    poll_ms: int = Field(
        default=200, ge=10, description="How often an idle dispatcher looks for events (bounds the latency)."
    )


WEBHOOK = "connectors.channels.webhook:WebhookChannel"
CHANNEL_TYPES = {
    "webhook": WEBHOOK,
    "rabbitmq": "connectors.channels.rabbitmq:RabbitMQChannel",
    "redis": "connectors.channels.redis_streams:RedisStreamChannel",
    "smtp": "connectors.channels.smtp:SmtpChannel",
    "fake": "connectors.channels.fake:FakeChannel",
}
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REGION = re.compile(r"\d{9}")
BODIES = ("congress", "audit", "discipline", "finance", "admin")
SUBSCRIPTION_KEYS = frozenset({"channel", "events", "min_level", "regions", "bodies"})


@dataclass(frozen=True, slots=True)
class Subscription:
    """Events of ``events`` (``inquiry.*`` for a family) concerning a region in one of ``regions``'
    subtrees (none: every region), addressed to one of ``bodies`` (none: any), go to ``channel``."""

    channel: str
    events: frozenset[str]
    min_level: str | None = None
    regions: tuple[str, ...] = ()
    bodies: frozenset[str] = frozenset()

    def wants(
        self, event_type: str, level: str | None, ancestors: Iterable[str], audience: Iterable[str]
    ) -> bool:
        if event_type not in self.events and f"{event_type.split('.')[0]}.*" not in self.events:
            return False
        if (
            self.min_level is not None
            and level is not None
            and LEVELS.index(level) < LEVELS.index(self.min_level)
        ):
            return False
        if self.regions and not set(self.regions) & set(ancestors):
            return False
        return not self.bodies or bool(self.bodies & set(audience))


@dataclass(frozen=True)
class FeedbackConfig:
    deadline_days: int = 5
    deadline_days_by_region: dict[str, int] = field(default_factory=dict)
    # name → its section as written: ``${VAR}`` are expanded when the channel is built, so a writer of
    # events (which needs only the subscriptions) never fails for a dispatcher's missing secret
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: tuple[Subscription, ...] = ()
    callback_regions: dict[str, str] = field(default_factory=dict)  # webhook channels taking callbacks

    def channel(self, name: str) -> Channel:
        """The channel ``name``, built (a connection is opened on first delivery, not here)."""
        if name not in self.channels:
            raise ConfigError(f"channels: no channel {name!r} is configured")
        return build_channel(name, self.channels[name])

    def callback_region(self, name: str) -> str | None:
        return self.callback_regions.get(name)

    def deadline_for(self, ancestors_nearest_first: Iterable[str]) -> int:
        """Working days to answer in a region, given its ancestors from itself up to the root."""
        for code in ancestors_nearest_first:
            if code in self.deadline_days_by_region:
                return self.deadline_days_by_region[code]
        return self.deadline_days


def channel_type(kind: str, where: str) -> type[Channel]:
    if kind not in CHANNEL_TYPES:
        raise ConfigError(f"{where}.type: one of {', '.join(sorted(CHANNEL_TYPES))}; got {kind!r}")
    module, _, name = CHANNEL_TYPES[kind].partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module), name)
    return cls


def build_channel(name: str, cfg: dict[str, Any]) -> Channel:
    """The channel of section ``cfg`` (as written: its ``${VAR}`` are expanded here)."""
    where = f"channels.{name}"
    cfg = expand(cfg, where)
    options = {k: v for k, v in cfg.items() if k not in ("type", "callback_region")}
    try:
        return channel_type(str(cfg.get("type")), where).from_config(name, options)
    except ChannelConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise ConfigError(f"{where}: a whole number of working days from 1 to 60; got {value!r}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: a list of strings; got {value!r}")
    return list(value)


def _subscription(i: int, sc: Any, channels: dict[str, Any]) -> Subscription:
    where = f"subscriptions[{i}]"
    if not isinstance(sc, dict):
        raise ConfigError(f"{where}: a table ([[subscriptions]])")
    unknown = set(sc) - SUBSCRIPTION_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    channel = sc.get("channel")
    if channel not in channels:
        raise ConfigError(f"{where}.channel: no channel {channel!r} is configured")
    events = _strings(sc.get("events", []), f"{where}.events")
    if not events:
        raise ConfigError(f"{where}.events: name at least one event ({', '.join(EVENT_TYPES)})")
    families = {f"{t.split('.')[0]}.*" for t in EVENT_TYPES}
    for e in events:
        if e not in EVENT_TYPES and e not in families:
            raise ConfigError(f"{where}.events: {e!r} is not one of {', '.join(EVENT_TYPES)} (or family.*)")
    level = sc.get("min_level")
    if level is not None and level not in LEVELS:
        raise ConfigError(f"{where}.min_level: one of {', '.join(LEVELS)}; got {level!r}")
    regions = _strings(sc.get("regions", []), f"{where}.regions")
    for r in regions:
        if not _REGION.fullmatch(r):
            raise ConfigError(f"{where}.regions: {r!r} is not a 9-digit region code")
    bodies = _strings(sc.get("bodies", []), f"{where}.bodies")
    for b in bodies:
        if b not in BODIES:
            raise ConfigError(f"{where}.bodies: {b!r} is not one of {', '.join(BODIES)}")
    return Subscription(str(channel), frozenset(events), level, tuple(regions), frozenset(bodies))


def parse_config(data: dict[str, Any], origin: str = "config", *, build: bool = True) -> FeedbackConfig:
    """Check the configuration; :class:`ConfigError` names the first mistake. ``build``: also build every
    channel (expanding its secrets from the environment), as the dispatcher and the CLI do; a writer of
    events reads it without (only the subscriptions concern it)."""
    unknown = set(data) - {"inquiries", "channels", "subscriptions"}
    if unknown:
        raise ConfigError(f"{origin}: unknown sections {', '.join(sorted(unknown))}")
    inq = data.get("inquiries", {})
    if not isinstance(inq, dict) or set(inq) - {"deadline_days", "deadline_days_by_region"}:
        raise ConfigError(f"{origin}: [inquiries] takes deadline_days and deadline_days_by_region")
    days = _days(inq.get("deadline_days", 5), "inquiries.deadline_days")
    by_region: dict[str, int] = {}
    for code, n in dict(inq.get("deadline_days_by_region", {})).items():
        if not _REGION.fullmatch(code):
            raise ConfigError(f"inquiries.deadline_days_by_region: {code!r} is not a 9-digit region code")
        by_region[code] = _days(n, f"inquiries.deadline_days_by_region.{code}")
    channels: dict[str, dict[str, Any]] = {}
    callback_regions: dict[str, str] = {}
    raw_channels = data.get("channels", {})
    if not isinstance(raw_channels, dict):
        raise ConfigError(f"{origin}: [channels.NAME] tables")
    for name, cfg in raw_channels.items():
        where = f"channels.{name}"
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: a channel's name is lower-case letters, digits, '.', '_' or '-'")
        if not isinstance(cfg, dict):
            raise ConfigError(f"{where}: a table")
        region = expand(cfg.get("callback_region"), f"{where}.callback_region")
        if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region)):
            raise ConfigError(f"{where}.callback_region: a 9-digit region code; got {region!r}")
        if region is not None and cfg.get("type") != "webhook":
            raise ConfigError(f"{where}.callback_region: only a webhook channel takes callbacks")
        if region is not None:
            callback_regions[name] = region
        channels[name] = cfg
        if build:
            build_channel(name, cfg)  # checks its settings (and secrets) now, before anything is sent
    subs = data.get("subscriptions", [])
    if not isinstance(subs, list):
        raise ConfigError(f"{origin}: [[subscriptions]] tables")
    subscriptions = tuple(_subscription(i, sc, channels) for i, sc in enumerate(subs))
    return FeedbackConfig(days, by_region, channels, subscriptions, callback_regions)


def load_config(path: Path, *, build: bool = True) -> FeedbackConfig:
    """The file at ``path``; a missing file is an empty configuration (no channels, 5 working days)."""
    if not path.exists():
        return FeedbackConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, str(path), build=build)


@cache
def current_config() -> FeedbackConfig:
    """The configuration ``OVERSIGHT_FEEDBACK_CONFIG`` names, read once per process, its channels not
    built: what the writers of events and the callback route need (the callback builds its channel)."""
    return load_config(FeedbackSettings().config, build=False)
