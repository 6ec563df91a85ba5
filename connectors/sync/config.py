"""The connector configuration file: sources, their streams and mappings (TOML).

::

    [sources.yth]                     # 预算管理一体化: the province's budget and treasury database
    type = "sql"
    url = "${YTH_DATABASE_URL}"       # secrets come from the environment, never from the file
    preset = "yth"                    # the streams of the standard 一体化 tables, mapped (presets/yth.toml)
    lookback = "10m"                  # re-read rows stamped this long before the bookmark
    timeout = "60s"

    [[sources.yth.streams]]           # a stream of the preset can be changed, or a new one added
    name = "PAY_VOUCHER_BILL"
    where = "MOF_DIV_CODE LIKE '41%'"

    [sources.zxzj]                    # the special-fund platform's JSON API
    type = "http"
    base_url = "https://zxzj.example.gov.cn/api"
    headers = { Authorization = "Bearer ${ZXZJ_TOKEN}" }
    ...

    [sources.drop]                    # a drop folder of feed batches
    type = "files"
    inbox = "/srv/oversight/inbox"

A stream names its feed ``table``, its ``cursor`` column (``UPDATE_TIME``), whether the source hands records
over ``sorted`` by it, and its mapping: ``rename``, ``codes``, ``transform`` and ``constant`` tables (see
:mod:`connectors.sync.mapping`). Every other key of a stream or a source belongs to the source type and is
checked by it. A mistake is refused before anything is read, naming where it is.
"""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sync.core import Source, Stream
from connectors.sync.mapping import MappingError, RecordMapping
from schema.feed import feed_tables


class SyncSettings(BaseSettings):
    """Source connectors: where their configuration file is."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_SYNC_", extra="ignore")

    config: Path = Field(
        default=Path("oversight-sync.toml"),
        description="TOML file of the sources `oversight sync` pulls from (connectors/sync/config.py).",
    )


class ConfigError(ValueError):
    """The configuration cannot work; the message says where and why."""


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
STREAM_KEYS = frozenset(
    {
        "name",
        "table",
        "cursor",
        "cursor_kind",
        "sorted",
        "lookback",
        "rename",
        "codes",
        "transform",
        "constant",
    }
)
SOURCE_KEYS = frozenset({"type", "enabled", "lookback", "timeout", "chunk_size", "streams", "preset"})


def duration(value: Any, where: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"250ms"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not a duration")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _DURATION.fullmatch(str(value).strip())
    if not m:
        raise ConfigError(f"{where}: {value!r} is not a duration (like 90s, 10m, 2h, 1d)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def expand(value: Any, where: str) -> Any:
    """``${NAME}`` and ``${NAME:-default}`` in every string, from the environment."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            found = os.environ.get(name)
            if found is None:
                if default is None:
                    raise ConfigError(f"{where}: the environment variable {name} is not set")
                return default
            return found

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


SOURCE_TYPES = {
    "sql": "connectors.sources.sql:SqlSource",
    "http": "connectors.sources.http:HttpSource",
    "files": "connectors.sources.files:FilesSource",
}


def source_type(kind: str) -> type[Source]:
    module, _, name = SOURCE_TYPES[kind].partition(":")
    cls: type[Source] = getattr(importlib.import_module(module), name)
    return cls


def preset_streams(name: str, where: str) -> list[dict[str, Any]]:
    """The streams of a shipped preset (``connectors/sync/presets/<name>.toml``)."""
    package = resources.files("connectors.sync") / "presets"
    known = sorted(p.name.removesuffix(".toml") for p in package.iterdir() if p.name.endswith(".toml"))
    if name not in known:
        raise ConfigError(f"{where}: unknown preset {name!r} (known: {', '.join(known)})")
    data = tomllib.loads((package / f"{name}.toml").read_text(encoding="utf-8"))
    return list(data.get("streams", []))


def load_config(path: Path) -> dict[str, Source]:
    """Every enabled source of the file, checked, by name."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file (set OVERSIGHT_SYNC_CONFIG or pass --config)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], origin: str = "config") -> dict[str, Source]:
    unknown = set(data) - {"sources"}
    if unknown:
        raise ConfigError(
            f"{origin}: unknown top-level key(s) {', '.join(sorted(unknown))} (expected [sources.NAME])"
        )
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise ConfigError(f"{origin}: no [sources.NAME] table")
    out: dict[str, Source] = {}
    for name, cfg in sources.items():
        where = f"sources.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigError(f"{where}: a source name is 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(cfg, dict):
            raise ConfigError(f"{where}: must be a table")
        if not cfg.get("enabled", True):
            continue
        out[name] = build_source(name, expand(cfg, where), where)
    return out


def build_source(name: str, cfg: dict[str, Any], where: str) -> Source:
    kind = cfg.get("type")
    if kind not in SOURCE_TYPES:
        raise ConfigError(f"{where}.type: {kind!r} is not one of {', '.join(SOURCE_TYPES)}")
    cls = source_type(str(kind))
    allowed = SOURCE_KEYS | getattr(cls, "source_keys", frozenset())
    extra = set(cfg) - allowed
    if extra:
        article = "an" if str(kind)[0] in "aeiouh" else "a"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))} for {article} {kind} source")
    lookback = duration(cfg.get("lookback", 0), f"{where}.lookback")
    raw_streams = _merge_streams(cfg, where)
    streams: list[Stream] = []
    seen_tables: dict[str, str] = {}
    for i, sc in enumerate(raw_streams):
        sw = f"{where}.streams[{i}]" if "name" not in sc else f"{where}.streams.{sc['name']}"
        stream = build_stream(sc, sw, lookback, cls)
        if stream.table in seen_tables:
            raise ConfigError(
                f"{sw}: table {stream.table} is already fed by stream {seen_tables[stream.table]}"
            )
        seen_tables[stream.table] = stream.name
        streams.append(stream)
    try:
        return cls.from_config(name, cfg, streams, where)  # type: ignore[attr-defined,no-any-return]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from None


def _merge_streams(cfg: dict[str, Any], where: str) -> list[dict[str, Any]]:
    given = cfg.get("streams", [])
    if not isinstance(given, list) or not all(isinstance(s, dict) for s in given):
        raise ConfigError(f"{where}.streams: must be a list of tables ([[{where}.streams]])")
    preset = cfg.get("preset")
    if not preset:
        return list(given)
    streams = {s["name"]: dict(s) for s in preset_streams(str(preset), f"{where}.preset")}
    for s in given:
        name = s.get("name")
        if name in streams:
            if s.get("enabled") is False:
                del streams[name]
                continue
            streams[name].update(s)  # a key given replaces the preset's (a mapping table as a whole)
        else:
            streams[str(name)] = dict(s)
    return [{k: v for k, v in s.items() if k != "enabled"} for s in streams.values()]


def build_stream(sc: dict[str, Any], where: str, lookback: timedelta, cls: type[Source]) -> Stream:
    allowed = STREAM_KEYS | getattr(cls, "stream_keys", frozenset())
    extra = set(sc) - allowed
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    name, table = sc.get("name"), sc.get("table")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: a stream needs a name")
    if table not in feed_tables():
        raise ConfigError(f"{where}.table: {table!r} is not a feed table ({', '.join(feed_tables())})")
    for section in ("rename", "codes", "transform", "constant"):
        if section in sc and not isinstance(sc[section], dict):
            raise ConfigError(f"{where}.{section}: must be a table")
    for field, codes in (sc.get("codes") or {}).items():
        if not isinstance(codes, dict):
            raise ConfigError(f"{where}.codes.{field}: must be a table of source code = canonical code")
    try:
        mapping = RecordMapping(
            feed_tables()[table],
            rename=sc.get("rename"),
            codes=sc.get("codes"),
            transforms=sc.get("transform"),
            constant=sc.get("constant"),
        )
    except MappingError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    kind = sc.get("cursor_kind", "datetime")
    if kind not in ("datetime", "int", "text"):
        raise ConfigError(f"{where}.cursor_kind: {kind!r} is not datetime, int or text")
    cursor = sc.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ConfigError(f"{where}.cursor: must be a column name")
    stream_lookback: timedelta | int = (
        duration(sc["lookback"], f"{where}.lookback") if "lookback" in sc else lookback
    )
    if kind == "int":
        stream_lookback = int(sc.get("lookback", 0))
    elif kind == "text":
        stream_lookback = 0
    # a source that orders its own reads (sql) is sorted; one that only says it does (an API) must be told so
    sorted_ = sc.get("sorted", getattr(cls, "sorted_by_default", False))
    if not isinstance(sorted_, bool):
        raise ConfigError(f"{where}.sorted: must be true or false")
    options = {k: v for k, v in sc.items() if k not in STREAM_KEYS}
    return Stream(str(name), str(table), mapping, cursor, kind, sorted_, stream_lookback, options)
