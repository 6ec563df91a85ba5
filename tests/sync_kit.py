"""The source systems of the connector conformance suite, and the world of records they publish.

A :class:`World` holds canonical feed records (the truth of a source system); a harness publishes each change
through one source type: rows of a 预算管理一体化 database (SQLite, PostgreSQL, MariaDB; the ``yth`` preset's
tables, written by :mod:`demo.source_system`), pages of a local JSON API over real HTTP, or feed batches
dropped into a folder. After a sync the warehouse must equal a reference warehouse loaded with ``oversight
load`` from one batch of every record's latest version: the same keys, content hashes and deletion flags.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from connectors.ingest.loader import load_batch
from connectors.sync.config import parse_config
from connectors.sync.core import Source
from demo import source_system
from schema.db import make_engine, normalise_url
from schema.feed import feed_tables
from schema.migrate import upgrade

Record = dict[str, str | None]
TABLES = ("agency", "ba_bgt_info", "pay_voucher", "pay_detail")
T0 = datetime(2025, 3, 1, 9, 0, 0)  # Asia/Shanghai local time, as the sources stamp
REGION = "410100000"  # 郑州市, seeded by the migrations
MARIADB_URL = os.environ.get("OVERSIGHT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
_names = itertools.count()


def stamp(t: datetime) -> str:
    return t.isoformat(sep=" ")


def agencies(n: int, at: datetime) -> list[Record]:
    return [
        {
            "agency_code": f"{101001 + i}",
            "agency_name": f"郑州市第{i + 1}局",
            "mof_div_code": REGION,
            "dept_code": f"{101001 + i}",
            "is_deleted": "0",
            "update_time": stamp(at + timedelta(seconds=i)),
        }
        for i in range(n)
    ]


def indicators(n: int, at: datetime) -> list[Record]:
    return [
        {
            "bgt_id": f"BGT{i:05d}",
            "mof_div_code": REGION,
            "fiscal_year": "2025",
            "cor_bgt_doc_no": f"郑财预〔2025〕{i + 1}号",
            "doc_date": "2025-01-15",
            "agency_code": f"{101001 + i % 20}",
            "fund_type_code": "1" if i % 4 else "2",
            "exp_func_code": "2010101",
            "amount": f"{100000 + i * 1000}.00",
            "is_deleted": "0",
            "update_time": stamp(at + timedelta(seconds=i)),
        }
        for i in range(n)
    ]


def vouchers(ids: range, at: datetime, *, amount_bump: int = 0) -> list[Record]:
    return [
        {
            "pay_cert_id": f"PAY{i:06d}",
            "pay_cert_no": f"ZF{i:06d}",
            "bgt_id": f"BGT{i % 40:05d}",
            "fiscal_year": "2025",
            "mof_div_code": REGION,
            "agency_code": f"{101001 + i % 20}",
            "vou_date": f"2025-02-{1 + i % 28:02d}",
            "pay_amt": f"{1000 + i + amount_bump}.{i % 100:02d}",
            "payee_acct_name": f"河南某某建设有限公司{i % 7}",
            "payee_acct_no": f"62220200{i:08d}",
            "payee_type": "3",
            "use_des": "工程款" if i % 3 else "办公用品采购",
            "set_mode_code": "1" if i % 5 else "3",
            "fund_type_code": "1" if i % 4 else "2",
            "is_deleted": "0",
            "update_time": stamp(at + timedelta(minutes=i)),
        }
        for i in ids
    ]


def details(ids: range, at: datetime) -> list[Record]:
    return [
        {
            "pay_detail_id": f"DET{i:06d}",
            "pay_cert_id": f"PAY{i // 5:06d}",
            "payee_acct_name": f"张{i}",
            "payee_acct_no": f"62170000{i:08d}",
            "pay_amt": f"{200 + i}.00",
            "subsidy_item": "耕地地力保护补贴",
            "is_deleted": "0",
            "update_time": stamp(at + timedelta(minutes=i)),
        }
        for i in ids
    ]


def base_records(at: datetime = T0) -> dict[str, list[Record]]:
    return {
        "agency": agencies(20, at),
        "ba_bgt_info": indicators(40, at),
        "pay_voucher": vouchers(range(300), at),
        "pay_detail": details(range(100), at),
    }


# -- harnesses: one per source type ----------------------------------------------------------------------


class Harness:
    kind = ""
    lookback = timedelta(0)  # what a sync re-reads before its bookmark
    rereads = True  # a cursor source reads from its bookmark on (the rows stamped exactly then, again)

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def publish(self, table: str, records: list[Record]) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def source(self, **overrides: Any) -> Source:
        return parse_config({"sources": {"src": {**self.config(), **overrides}}})["src"]

    def stream_of(self, table: str) -> str:
        """The name of the stream (or the sync report row) that feeds a table."""
        return next(s.name for s in source_system.source_tables().values() if s.feed.name == table)

    def close(self) -> None:
        pass


class SqlHarness(Harness):
    """A 一体化 database the test creates: the preset's upper-case tables."""

    def __init__(self, tmp_path: Path, url: str, kind: str, cleanup: Any = None) -> None:
        super().__init__(tmp_path)
        self.kind, self.url, self._cleanup = kind, url, cleanup
        self.engine = create_engine(normalise_url(url))
        source_system.create_schema(self.engine)

    def publish(self, table: str, records: list[Record]) -> None:
        source_system.upsert(self.engine, table, records)

    def config(self) -> dict[str, Any]:
        return {"type": "sql", "url": self.url, "preset": "yth", "lookback": "10m", "timeout": "20s"}

    lookback = timedelta(minutes=10)

    def stream_of(self, table: str) -> str:
        return source_system.source_tables()[table].name

    def close(self) -> None:
        self.engine.dispose()
        if self._cleanup:
            self._cleanup()


class FilesHarness(Harness):
    """A drop folder: each publication is one feed batch of the changed records."""

    kind = "files"
    rereads = False  # a batch is taken once

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.inbox = tmp_path / "drop" / "inbox"
        self.inbox.mkdir(parents=True)
        self._seq = itertools.count(1)

    def publish(self, table: str, records: list[Record]) -> None:
        folder = self.inbox / f"batch-{next(self._seq):04d}-{table}"
        folder.mkdir()
        write_csv(folder / f"{table}.csv", records)
        (folder / ".ready").touch()

    def config(self) -> dict[str, Any]:
        return {"type": "files", "inbox": str(self.inbox), "settle": "0s"}

    def stream_of(self, table: str) -> str:
        return table


class HttpHarness(Harness):
    """The 一体化 tables served as a JSON API over real HTTP (tests/http_source_app.py), page by page."""

    kind = "http"
    lookback = timedelta(minutes=10)

    def __init__(self, tmp_path: Path) -> None:
        from tests.http_source_app import make_app, serve

        super().__init__(tmp_path)
        self.app = make_app()
        self._serving = serve(self.app)
        self.base_url = self._serving.__enter__()
        for st in source_system.source_tables().values():  # every table answers, empty or not
            keys = [
                st.columns[next(c.field.name for c in st.feed.columns if c.column == k)] for k in st.feed.key
            ]
            self.app.state.store.put(st.name, [], key=keys)

    def publish(self, table: str, records: list[Record]) -> None:
        st = source_system.source_tables()[table]
        self.app.state.store.put(st.name, [_json_row(r) for r in source_system.source_rows(table, records)])

    def config(self) -> dict[str, Any]:
        streams = [{"name": st.name, "path": f"/{st.name}"} for st in source_system.source_tables().values()]
        return {
            "type": "http",
            "base_url": f"{self.base_url}/api",
            "preset": "yth",
            "lookback": "10m",
            "page_size": 50,
            "backoff": "10ms",
            "streams": streams,
        }

    def stream_of(self, table: str) -> str:
        return source_system.source_tables()[table].name

    def close(self) -> None:
        self._serving.__exit__(None, None, None)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A 一体化 row as a JSON API sends it: amounts as exact decimal strings, dates in ISO form, stamps as
    ``YYYY-MM-DD HH:MM:SS`` local time."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, datetime):
            out[k] = v.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(v, date):
            out[k] = v.isoformat()
        elif isinstance(v, Decimal):
            out[k] = str(v)
        else:
            out[k] = v
    return out


def write_csv(path: Path, records: list[Record]) -> None:
    fields = list(dict.fromkeys(k for r in records for k in r))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fields)
        w.writeheader()
        w.writerows(records)


def sqlite_harness(tmp_path: Path) -> SqlHarness:
    return SqlHarness(tmp_path, f"sqlite:///{tmp_path / 'yth.db'}", "sql-sqlite")


def postgres_harness(tmp_path: Path, admin: Engine, base_url: str) -> SqlHarness:
    name = f"yth_src_{os.getpid()}_{next(_names)}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    return SqlHarness(tmp_path, url, "sql-postgresql", drop)


def mariadb_harness(tmp_path: Path) -> SqlHarness:
    from tests.conftest import service_unavailable

    admin = create_engine(MARIADB_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the service is missing
        admin.dispose()
        service_unavailable("MariaDB", exc)
    name = f"yth_src_{os.getpid()}_{next(_names)}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    url = make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)
    return SqlHarness(tmp_path, url, "sql-mariadb", drop)


# -- the world and its reference warehouse ---------------------------------------------------------------


class World:
    """Every record a source system holds, latest version per key, and the harness that publishes them."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.records: dict[str, dict[tuple[str | None, ...], Record]] = {t: {} for t in TABLES}

    def put(self, table: str, records: list[Record]) -> None:
        ft = feed_tables()[table]
        names = [next(c.field.name for c in ft.columns if c.column == k) for k in ft.key]
        for r in records:
            self.records[table][tuple(r.get(n) for n in names)] = r
        self.harness.publish(table, records)

    def overlap(self, table: str, before: datetime) -> int:
        """Records of a table stamped within the look-back window of the newest stamp before ``before``."""
        if not self.harness.rereads:
            return 0
        stamps = [r["update_time"] for r in self.records[table].values() if r["update_time"] < stamp(before)]
        newest = datetime.fromisoformat(max(stamps))  # type: ignore[type-var,arg-type]
        edge = stamp(newest - self.harness.lookback)
        return sum(1 for s in stamps if s >= edge)  # type: ignore[operator]

    def seed(self, at: datetime = T0) -> None:
        for table, records in base_records(at).items():
            self.put(table, records)

    def reference(self, tmp_path: Path) -> dict[str, set[tuple[Any, ...]]]:
        """The warehouse's feed rows after ``oversight load`` of every record's latest version."""
        folder = tmp_path / f"reference-{next(_names)}"
        folder.mkdir()
        for table, records in self.records.items():
            if records:
                write_csv(folder / f"{table}.csv", list(records.values()))
        path = tmp_path / f"{folder.name}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        load_batch(engine, folder, monitor=False)
        try:
            return dump(engine)
        finally:
            engine.dispose()


def dump(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Per table: (key…, content hash, deleted) of every stored row."""
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            ft = feed_tables()[table]
            rows = conn.execute(text(f"SELECT {', '.join(ft.key)}, src_hash, is_deleted FROM {table}"))
            out[table] = {(*r[:-1], bool(r[-1])) for r in rows}
    return out


def harness_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if kind == "sql-sqlite":
        h: Harness = sqlite_harness(tmp_path)
    elif kind == "sql-postgresql":
        from tests.conftest import PG_URL

        h = postgres_harness(tmp_path, request.getfixturevalue("pg_admin"), PG_URL)
    elif kind == "sql-mariadb":
        h = mariadb_harness(tmp_path)
    elif kind == "files":
        h = FilesHarness(tmp_path)
    elif kind == "http":
        h = HttpHarness(tmp_path)
    else:
        raise ValueError(kind)
    try:
        yield h
    finally:
        h.close()
