"""The ``http`` source against a real JSON API over real HTTP (tests/http_source_app.py under uvicorn):
pagination, incremental reads, authentication, retries and their limits, garbage, configuration, and a sync
into the warehouse."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from connectors.ingest.convert import SHANGHAI
from connectors.ingest.loader import load_batch
from connectors.sources.http import HttpSource
from connectors.sync.config import ConfigError, build_source, parse_config
from connectors.sync.core import SourceError
from connectors.sync.runner import sync_source
from schema.budget import SpeFund
from schema.loading import Quarantine
from schema.sync import SyncState
from tests.http_source_app import Faults, Seen, make_app, serve

T0 = datetime(2024, 3, 1, 10, 0, 0)  # local (Asia/Shanghai) time, as the platform stamps records


def fund(
    i: int, *, minutes: int | None = None, deleted: int = 2, div: str = "410000000", **extra: Any
) -> dict:
    """A special fund as the platform's API hands it over."""
    stamp = T0 + timedelta(minutes=i if minutes is None else minutes)
    return {
        "SPE_FUND_CODE": f"ZX{i:04d}",
        "SPE_FUND_NAME": f"专项资金{i}",
        "MOF_DIV_CODE": div,
        "START_YEAR": 2024,
        "IS_DELETED": deleted,
        "UPDATE_TIME": stamp.strftime("%Y-%m-%d %H:%M:%S"),
        **extra,
    }


@pytest.fixture
def api() -> Starlette:
    return make_app()


@pytest.fixture
def base_url(api: Starlette) -> Iterator[str]:
    with serve(api) as url:
        yield url


def faults(api: Starlette) -> Faults:
    return api.state.faults  # type: ignore[no-any-return]


def log(api: Starlette) -> list[Seen]:
    return api.state.log  # type: ignore[no-any-return]


def source(base_url: str, stream: dict[str, Any] | None = None, **cfg: Any) -> tuple[HttpSource, list[float]]:
    """An http source of one ``spe_fund`` stream, built through the configuration; and its recorded sleeps."""
    config: dict[str, Any] = {
        "type": "http",
        "base_url": base_url,
        "backoff": "1ms",
        "max_backoff": "10ms",
        **cfg,
    }
    config["streams"] = [
        {
            "name": "spe_fund",
            "table": "spe_fund",
            "cursor": "UPDATE_TIME",
            "path": "/api/spe_fund",
            **(stream or {}),
        }
    ]
    src = build_source("zxzj", config, "sources.zxzj")
    assert isinstance(src, HttpSource)
    sleeps: list[float] = []
    src._sleep = sleeps.append
    return src, sleeps


def read(src: HttpSource, since: Any = None) -> list[list[dict[str, Any]]]:
    src.open()
    try:
        return list(src.pages(src.streams[0], since))
    finally:
        src.close()


def codes(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [r["SPE_FUND_CODE"] for page in pages for r in page]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- pagination ----------------------------------------------------------------------------------------------


def test_page_pagination_reads_every_record_in_order(api: Starlette, base_url: str) -> None:
    # stored out of order, with two records sharing a stamp: handed out by UPDATE_TIME, then key
    records = [fund(i) for i in (6, 2, 0, 5, 1, 3)] + [fund(4, minutes=3)]
    api.state.store.put("spe_fund", records)
    src, _ = source(base_url, page_size=3)
    pages = read(src)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert codes(pages) == ["ZX0000", "ZX0001", "ZX0002", "ZX0003", "ZX0004", "ZX0005", "ZX0006"]
    assert pages[0][0] == fund(0)  # the record as the API has it, upper-case keys and all
    assert [(s.params["page"], s.params["size"]) for s in log(api)] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert "updated_since" not in log(api)[0].params  # a full sync sends no lower bound


def test_page_boundary_exactly_at_page_size(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(6)])
    src, _ = source(base_url, page_size=3)
    pages = read(src)
    assert [len(p) for p in pages] == [3, 3]  # the empty third page ends it, and yields nothing
    assert codes(pages) == [f"ZX{i:04d}" for i in range(6)]
    assert [s.params["page"] for s in log(api)] == ["1", "2", "3"]


def test_page_parameters_the_api_ignores_are_caught(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(3)])
    src, _ = source(
        base_url, {"first_page": 0, "page_param": "pageNo", "size_param": "pageSize"}, page_size=2
    )
    with pytest.raises(
        SourceError, match=r"page 1 of .*: 3 records on a page of 2: .* page size as 'pageSize'"
    ):
        read(src)  # this API knows neither name: it answers its default page of 100
    assert [(s.params["pageNo"], s.params["pageSize"]) for s in log(api)] == [("0", "2")]
    log(api).clear()
    src, _ = source(base_url, {"page_param": "pageNo"}, page_size=2)
    with pytest.raises(
        SourceError, match=r"page 2 of .*: the same records as the page before: .* as 'pageNo'"
    ):
        read(src)  # without a page number the API answers page 1 again and again
    assert len(log(api)) == 2


def test_an_empty_table_is_one_request_and_no_page(api: Starlette, base_url: str) -> None:
    src, _ = source(base_url)
    assert read(src) == []
    assert len(log(api)) == 1


def test_cursor_pagination_follows_the_next_token(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(7)])
    src, _ = source(base_url, {"path": "/api/cursor/spe_fund", "pagination": "cursor"}, page_size=3)
    pages = read(src)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert codes(pages) == [f"ZX{i:04d}" for i in range(7)]
    seen = log(api)
    assert len(seen) == 3
    assert "cursor" not in seen[0].params
    assert all(s.params["size"] == "3" for s in seen)
    assert seen[1].params["cursor"] and seen[2].params["cursor"] != seen[1].params["cursor"]


def test_cursor_pagination_ends_on_a_full_last_page(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(6)])
    src, _ = source(base_url, {"path": "/api/cursor/spe_fund", "pagination": "cursor"}, page_size=3)
    assert [len(p) for p in read(src)] == [3, 3]
    assert len(log(api)) == 2  # the API said there is no next page: no empty third request


def test_dotted_paths_to_the_records_and_the_next_token(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(5)])
    stream = {
        "path": "/api/v2/spe_fund",
        "pagination": "cursor",
        "records": "result.rows",
        "next": "result.paging.next",
    }
    src, _ = source(base_url, stream, page_size=2)
    assert codes(read(src)) == [f"ZX{i:04d}" for i in range(5)]
    assert len(log(api)) == 3


def test_a_body_that_is_the_list_itself_without_pagination(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(4)])
    src, _ = source(base_url, {"path": "/api/all/spe_fund", "pagination": "none", "records": ""}, page_size=2)
    pages = read(src)
    assert [len(p) for p in pages] == [4]
    assert len(log(api)) == 1 and "size" not in log(api)[0].params


def test_a_looping_next_token_is_refused(api: Starlette, base_url: str) -> None:
    faults(api).shape = {"data": [fund(1)], "next": "same"}
    faults(api).wrong_shape = 5
    src, _ = source(base_url, {"path": "/api/cursor/spe_fund", "pagination": "cursor"})
    with pytest.raises(SourceError, match="next-page token 'same' again"):
        read(src)


def test_amounts_stay_exact_decimals(api: Starlette, base_url: str) -> None:
    faults(api).shape = {"data": [{"SPE_FUND_CODE": "A", "AMOUNT": 12345678901234.57}]}
    faults(api).wrong_shape = 1
    src, _ = source(base_url)
    (record,) = read(src)[0]
    assert str(record["AMOUNT"]) == "12345678901234.57"  # a float would have lost the last digit


# -- incremental reads and parameters ------------------------------------------------------------------------


def test_updated_since_filters_and_goes_out_in_iso_8601(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(10)])
    src, _ = source(base_url, page_size=3)
    since = datetime(2024, 3, 1, 2, 5, tzinfo=UTC)  # 10:05 in Shanghai
    pages = read(src, since)
    assert codes(pages) == [f"ZX{i:04d}" for i in range(5, 10)]
    assert {s.params["updated_since"] for s in log(api)} == {"2024-03-01T02:05:00+00:00"}


def test_since_format_is_the_apis_local_time(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(10)])
    src, _ = source(base_url, {"since_format": "%Y-%m-%d %H:%M:%S", "since_param": "updated_since"})
    pages = read(src, datetime(2024, 3, 1, 2, 7, tzinfo=UTC))
    assert codes(pages) == [f"ZX{i:04d}" for i in range(7, 10)]
    assert log(api)[0].params["updated_since"] == "2024-03-01 10:07:00"


def test_params_of_the_stream_override_the_sources(api: Starlette, base_url: str) -> None:
    src, _ = source(base_url, {"params": {"mof_div": "410100000"}}, params={"mof_div": "41", "year": 2024})
    read(src)
    assert log(api)[0].params == {"mof_div": "410100000", "year": "2024", "page": "1", "size": "500"}


def test_newest(api: Starlette, base_url: str) -> None:
    src, _ = source(base_url)
    stream = src.streams[0]
    assert src.newest(stream) is None  # no newest_path: the source cannot say, and asks nothing
    assert log(api) == []
    src, _ = source(base_url, {"newest_path": "/api/spe_fund/newest"})
    stream = src.streams[0]
    src.open()
    assert src.newest(stream) is None  # an empty table
    api.state.store.put("spe_fund", [fund(3), fund(1)])
    assert src.newest(stream) == "2024-03-01 10:03:00"
    assert stream.cursor_value(src.newest(stream)) == datetime(2024, 3, 1, 10, 3, tzinfo=SHANGHAI)
    src.close()
    src, _ = source(base_url, {"newest_path": "/api/spe_fund/newest", "newest_field": "latest.stamp"})
    with pytest.raises(SourceError, match=r"newest.*has no 'latest.stamp' \(its keys: newest\)"):
        src.newest(src.streams[0])
    src.close()


# -- authentication ------------------------------------------------------------------------------------------


def test_the_authorization_header_goes_with_every_request(api: Starlette, base_url: str) -> None:
    faults(api).token = "s3cret-token"
    api.state.store.put("spe_fund", [fund(i) for i in range(5)])
    src, sleeps = source(
        base_url, headers={"Authorization": "Bearer s3cret-token", "X-Client": "oversight"}, page_size=2
    )
    assert len(codes(read(src))) == 5
    assert all(s.headers["authorization"] == "Bearer s3cret-token" for s in log(api))
    assert all(s.headers["x-client"] == "oversight" for s in log(api))
    assert "s3cret" not in src.describe()


def test_without_the_token_401_fails_at_once(api: Starlette, base_url: str) -> None:
    faults(api).token = "s3cret-token"
    src, sleeps = source(base_url, headers={"Authorization": "Bearer wrong"})
    with pytest.raises(SourceError) as err:
        read(src)
    message = str(err.value)
    assert "401" in message and "unauthorised" in message and "page 1 of /api/spe_fund" in message
    assert "wrong" not in message and "s3cret" not in message
    assert len(log(api)) == 1 and sleeps == []


# -- retries -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_passing_failures_are_retried_with_backoff(api: Starlette, base_url: str, status: int) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(5)])
    faults(api).fail, faults(api).status = 2, status
    src, sleeps = source(base_url, page_size=3, backoff="10ms", max_backoff="15ms")
    assert len(codes(read(src))) == 5
    assert [s.status for s in log(api)] == [status, status, 200, 200]
    assert src.requests == 4
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.010 and 0 <= sleeps[1] <= 0.015  # full jitter under backoff·2^n, capped


def test_a_failure_mid_way_retries_only_that_page(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(7)])
    faults(api).skip, faults(api).fail, faults(api).status = 1, 1, 502
    src, sleeps = source(base_url, page_size=3)
    assert codes(read(src)) == [f"ZX{i:04d}" for i in range(7)]
    assert [(s.params["page"], s.status) for s in log(api)] == [
        ("1", 200),
        ("2", 502),
        ("2", 200),
        ("3", 200),
    ]


@pytest.mark.parametrize(("status", "retry_after", "max_backoff", "expected"), [
    (429, "2", "30s", [2.0, 2.0]),
    (503, "1.5", "30s", [1.5, 1.5]),
    (503, "120", "5s", [5.0, 5.0]),  # capped by max_backoff
    (429, "Wed, 21 Oct 2015 07:28:00 GMT", "30s", [0.0, 0.0]),  # an HTTP date in the past: at once
])  # fmt: skip
def test_retry_after_is_honoured(
    api: Starlette, base_url: str, status: int, retry_after: str, max_backoff: str, expected: list[float]
) -> None:
    faults(api).fail, faults(api).status, faults(api).retry_after = 2, status, retry_after
    src, sleeps = source(base_url, max_backoff=max_backoff)
    read(src)
    assert sleeps == expected
    assert len(log(api)) == 3


def test_retry_after_on_500_is_not_a_promise(api: Starlette, base_url: str) -> None:
    faults(api).fail, faults(api).status, faults(api).retry_after = 1, 500, "60"
    src, sleeps = source(base_url)
    read(src)
    assert len(sleeps) == 1 and sleeps[0] <= 0.001  # the jittered backoff, not a minute


def test_giving_up_names_the_url_the_attempts_and_the_reason(api: Starlette, base_url: str) -> None:
    faults(api).fail, faults(api).status = 100, 503
    src, sleeps = source(base_url, retries=3, params={"api_key": "k-9f8e7d"})
    with pytest.raises(SourceError) as err:
        read(src)
    message = str(err.value)
    assert f"GET {base_url}/api/spe_fund failed 4 times" in message
    assert "HTTP 503" in message and "page 1 of /api/spe_fund" in message
    assert "k-9f8e7d" not in message and "api_key" not in message
    assert len(log(api)) == 4 and src.requests == 4 and len(sleeps) == 3


@pytest.mark.parametrize(
    ("stream", "status", "excerpt"),
    [
        ({"path": "/nowhere/at/all"}, "404", "Not Found"),
        ({"since_format": "%d/%m/%Y"}, "400", "is not an ISO 8601 date-time"),  # the API's own complaint
    ],
)
def test_other_client_errors_are_not_retried(
    api: Starlette, base_url: str, stream: dict[str, Any], status: str, excerpt: str
) -> None:
    src, sleeps = source(base_url, stream)
    with pytest.raises(SourceError, match=status) as err:
        read(src, datetime(2024, 3, 1, tzinfo=UTC))
    assert excerpt in str(err.value)
    assert src.requests == 1 and sleeps == []


def test_connection_refused_is_retried_then_fails(api: Starlette) -> None:
    src, sleeps = source(f"http://127.0.0.1:{free_port()}/api", retries=2)
    with pytest.raises(SourceError, match=r"failed 3 times; last: ConnectError"):
        read(src)
    assert len(sleeps) == 2


def test_a_slow_response_times_out_and_fails_after_the_retries(api: Starlette, base_url: str) -> None:
    faults(api).slow, faults(api).delay = 10, 0.6
    src, sleeps = source(base_url, retries=1, timeout="0.15s")
    with pytest.raises(SourceError, match=r"failed 2 times; last: timed out after 0.15s \(ReadTimeout\)"):
        read(src)
    assert src.requests == 2 and len(sleeps) == 1


def test_a_slow_response_once_is_retried(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(1)])
    faults(api).slow, faults(api).delay = 1, 0.6
    src, sleeps = source(base_url, timeout="0.15s")
    assert codes(read(src)) == ["ZX0001"]
    assert src.requests == 2


# -- the request budget --------------------------------------------------------------------------------------


def test_the_request_budget_stops_a_long_sync(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(7)])
    src, _ = source(base_url, page_size=3, max_requests=2)
    src.open()
    pages = src.pages(src.streams[0], None)
    assert len(next(pages)) == 3 and len(next(pages)) == 3
    with pytest.raises(
        SourceError, match=r"page 3 of /api/spe_fund: the request budget of 2 requests per sync"
    ):
        next(pages)
    src.close()
    assert len(log(api)) == 2
    src.open()  # a new sync has a new budget
    assert src.requests == 0
    assert len(next(src.pages(src.streams[0], None))) == 3
    src.close()


def test_every_retry_counts_against_the_budget(api: Starlette, base_url: str) -> None:
    faults(api).fail, faults(api).status = 100, 500
    src, _ = source(base_url, retries=10, max_requests=3)
    with pytest.raises(
        SourceError, match=r"budget of 3 requests per sync \(max_requests\) is spent; .*HTTP 500"
    ):
        read(src)
    assert len(log(api)) == 3


# -- garbage -------------------------------------------------------------------------------------------------


def test_a_body_that_is_not_json(api: Starlette, base_url: str) -> None:
    api.state.store.put("spe_fund", [fund(i) for i in range(9)])
    faults(api).skip, faults(api).garbage = 2, 1
    src, sleeps = source(base_url, page_size=3)
    src.open()
    pages = src.pages(src.streams[0], None)
    assert len(next(pages)) == 3 and len(next(pages)) == 3
    with pytest.raises(SourceError) as err:
        next(pages)
    src.close()
    message = str(err.value)
    assert message.startswith(f"http {base_url}: page 3 of /api/spe_fund: the body is not JSON (text/html")
    assert "Bad Gateway" in message
    assert sleeps == []  # a 200 that is garbage is not a passing failure


@pytest.mark.parametrize(
    ("stream", "body", "message"),
    [
        ({}, {"rows": []}, "page 1 of /api/spe_fund: the body has no 'data' (its keys: rows)"),
        ({}, {"data": {"SPE_FUND_CODE": "x"}}, "expected a list of records at 'data', found an object"),
        ({}, {"data": None}, "expected a list of records at 'data', found null"),
        ({}, {"data": [fund(1), 7]}, "page 1 of /api/spe_fund: record 2 is a number, not an object"),
        ({}, {"data": [["ZX0001"]]}, "record 1 is a list, not an object"),
        ({}, [fund(1)], "expected an object at 'the body' to find 'data', found a list"),
        ({"records": "result.rows"}, {"result": "x"}, "expected an object at 'result' to find 'result.rows'"),
        ({"records": ""}, {"data": []}, "expected a list of records as the body, found an object"),
        ({"pagination": "cursor"}, {"data": [], "next": {"a": 1}}, "next-page token 'next' is an object"),
    ],
)
def test_a_body_of_the_wrong_shape(
    api: Starlette, base_url: str, stream: dict[str, Any], body: Any, message: str
) -> None:
    faults(api).shape, faults(api).wrong_shape = body, 1
    src, _ = source(base_url, stream)
    with pytest.raises(SourceError) as err:
        read(src)
    assert message in str(err.value)


# -- configuration -------------------------------------------------------------------------------------------


def test_defaults_and_describe(api: Starlette) -> None:
    cfg = {
        "type": "http",
        "base_url": "https://reader:pa55word@zxzj.example.gov.cn/api?key=abc123",
        "streams": [{"name": "funds", "table": "spe_fund", "path": "/funds"}],
    }
    src = build_source("zxzj", cfg, "sources.zxzj")
    assert isinstance(src, HttpSource)
    assert src.describe() == "http https://zxzj.example.gov.cn/api"
    assert (src.page_size, src.retries, src.max_requests, src.verify) == (500, 5, 10_000, True)
    assert (src.backoff_s, src.max_backoff_s, src.timeout_s) == (0.5, 30.0, 30.0)
    src.open()  # makes no request: nothing listens there
    src.close()


def test_parse_config_expands_the_token_from_the_environment(
    api: Starlette, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZXZJ_TOKEN", "from-the-env")
    faults(api).token = "from-the-env"
    api.state.store.put("spe_fund", [fund(1)])
    data = {
        "sources": {
            "zxzj": {
                "type": "http",
                "base_url": f"{base_url}/api",
                "headers": {"Authorization": "Bearer ${ZXZJ_TOKEN}"},
                "timeout": "5s",
                "verify": False,
                "streams": [
                    {"name": "funds", "table": "spe_fund", "path": "spe_fund", "cursor": "UPDATE_TIME"}
                ],
            }
        }
    }
    src = parse_config(data)["zxzj"]
    assert isinstance(src, HttpSource)
    assert src.timeout_s == 5.0 and src.verify is False
    assert codes(read(src)) == ["ZX0001"]  # base_url's path and the stream's path join
    assert log(api)[0].path == "/api/spe_fund"


def _cfg(source: dict[str, Any] | None = None, stream: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {"type": "http", "base_url": "https://zxzj.example.gov.cn/api", **(source or {})}
    base["streams"] = [{"name": "funds", "table": "spe_fund", "path": "/funds", **(stream or {})}]
    return base


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            {"type": "http", "streams": []},
            r"sources\.zxzj\.base_url: an http source needs the API's base URL",
        ),
        (_cfg({"base_url": "ftp://files.example/x"}), r"base_url: not an http:// or https:// URL"),
        (_cfg({"base_url": "https://"}), r"sources\.zxzj\.base_url: not"),
        ({"type": "http", "base_url": "https://x.example"}, r"sources\.zxzj: no streams"),
        (_cfg(stream={"path": None}), r"sources\.zxzj\.streams\.funds\.path: an http stream needs"),
        (_cfg(stream={"path": ""}), r"streams\.funds\.path: an http stream needs"),
        (
            _cfg(stream={"path": "https://elsewhere.example/x"}),
            r"streams\.funds\.path: .* relative to base_url",
        ),
        (_cfg(stream={"newest_path": "//elsewhere.example/x"}), r"streams\.funds\.newest_path: .* relative"),
        (_cfg({"bogus": 1}), r"sources\.zxzj: unknown key\(s\) bogus for an http source"),
        (_cfg(stream={"pagesize": 100}), r"sources\.zxzj\.streams\.funds: unknown key\(s\) pagesize"),
        (_cfg(stream={"pagination": "offset"}), r"pagination: 'offset' is not one of page, cursor, none"),
        (_cfg(stream={"next": ""}), r"streams\.funds\.next: must be a non-empty string"),
        (_cfg(stream={"first_page": "1"}), r"first_page: a whole number"),
        (_cfg(stream={"params": {"a": {"b": 1}}}), r"streams\.funds\.params\.a: a string, number or boolean"),
        (_cfg({"page_size": 0}), r"sources\.zxzj\.page_size: a whole number of at least 1"),
        (_cfg({"retries": -1}), r"retries: a whole number of at least 0"),
        (_cfg({"max_requests": True}), r"max_requests: a whole number of at least 1"),
        (_cfg({"backoff": "soon"}), r"sources\.zxzj\.backoff: 'soon' is not a duration"),
        (_cfg({"timeout": 0}), r"sources\.zxzj\.timeout: must be more than zero"),
        (_cfg({"headers": "Authorization: x"}), r"sources\.zxzj\.headers: must be a table"),
        (_cfg({"headers": {"X-Limits": [1]}}), r"sources\.zxzj\.headers: must be a table"),
        (_cfg({"params": ["a"]}), r"sources\.zxzj\.params: must be a table"),
        (_cfg({"verify": ""}), r"sources\.zxzj\.verify: true, false, or the path of a CA bundle"),
    ],
)
def test_configuration_mistakes_are_refused(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_source("zxzj", cfg, "sources.zxzj")


def test_a_ca_bundle_that_is_not_there_fails_open() -> None:
    src = build_source("zxzj", _cfg({"verify": "/nonexistent/ca.pem"}), "sources.zxzj")
    with pytest.raises(
        SourceError, match=r"cannot set up http https://zxzj.example.gov.cn/api: FileNotFoundError"
    ):
        src.open()


def test_a_cursor_format_reads_the_apis_stamps() -> None:
    src = build_source(
        "zxzj", _cfg(stream={"cursor": "UPD", "cursor_format": "%Y%m%d%H%M%S"}), "sources.zxzj"
    )
    assert src.streams[0].cursor_value("20240301100500") == datetime(2024, 3, 1, 10, 5, tzinfo=SHANGHAI)


def test_a_mistake_through_parse_config_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"sources\.zxzj\.base_url"):
        parse_config({"sources": {"zxzj": {"type": "http", "streams": []}}})


# -- a sync into the warehouse -------------------------------------------------------------------------------


def _regions(engine: Engine, folder: Path) -> None:
    folder.mkdir()
    (folder / "mof_div.csv").write_text(
        "mof_div_code,mof_div_name,parent_code,level_no\n410000000,河南省,,1\n410100000,郑州市,410000000,2\n",
        encoding="utf-8",
    )
    report = load_batch(engine, folder, monitor=False)
    assert all(t.status == "loaded" for t in report.tables), report


def _sync_config(base_url: str, **cfg: Any) -> dict[str, Any]:
    return {
        "sources": {
            "zxzj": {
                "type": "http",
                "base_url": f"{base_url}/api",
                "headers": {"Authorization": "Bearer ${ZXZJ_TOKEN}"},
                "backoff": "1ms",
                **cfg,
                "streams": [
                    {
                        "name": "spe_fund",
                        "table": "spe_fund",
                        "path": "/spe_fund",
                        "newest_path": "/spe_fund/newest",
                        "cursor": "UPDATE_TIME",
                        "sorted": True,  # the test API hands records over by UPDATE_TIME
                        "codes": {"is_deleted": {"1": "1", "2": "0"}},
                    }
                ],
            }
        }
    }


def _funds(engine: Engine) -> dict[str, tuple[str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(SpeFund.spe_fund_code, SpeFund.spe_fund_name, SpeFund.mof_div_code, SpeFund.is_deleted)
        )
        return {r[0]: (r[1], r[2], bool(r[3])) for r in rows}


def _state(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(SyncState).where(SyncState.source == "zxzj")).one()


def test_sync_lands_the_records_in_the_warehouse(
    engine: Engine, api: Starlette, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _regions(engine, tmp_path / "regions")
    monkeypatch.setenv("ZXZJ_TOKEN", "tok-41")
    faults(api).token = "tok-41"
    api.state.store.put(
        "spe_fund",
        [
            fund(1),
            fund(2, div="410100000"),
            fund(3, deleted=1),  # deleted on the platform
            fund(4, deleted=3),  # a code the mapping does not know: quarantined
            fund(5),
        ],
    )
    src = parse_config(_sync_config(base_url, page_size=2))["zxzj"]

    report = sync_source(engine, src, monitor=False)
    assert report.ok, report.error
    (sr,) = report.streams
    c = sr.counts
    assert sr.status == "ok" and (c.read, c.inserted, c.deleted, c.quarantined) == (5, 3, 1, 1)
    assert _funds(engine) == {
        "ZX0001": ("专项资金1", "410000000", False),
        "ZX0002": ("专项资金2", "410100000", False),
        "ZX0003": ("专项资金3", "410000000", True),
        "ZX0005": ("专项资金5", "410000000", False),
    }
    with engine.connect() as conn:
        (bad,) = conn.execute(select(Quarantine).where(Quarantine.table_name == "spe_fund")).all()
    assert "is_deleted" in bad.reason and "'3'" in bad.reason
    assert bad.raw["SPE_FUND_CODE"] == "ZX0004"
    state = _state(engine)
    assert state.status == "ok"
    assert state.cursor == "2024-03-01T10:05:00+08:00"  # the newest stamp read, the platform's local time
    assert state.source_cursor == "2024-03-01T10:05:00+08:00"
    assert all(s.headers["authorization"] == "Bearer tok-41" for s in log(api))

    # the next sync asks only for what changed since the bookmark
    api.state.store.put(
        "spe_fund", [fund(2, minutes=30, SPE_FUND_NAME="专项资金2（调整）"), fund(6, minutes=31)]
    )
    log(api).clear()
    report = sync_source(engine, src, monitor=False)
    assert report.ok, report.error
    assert {s.params.get("updated_since") for s in log(api) if s.path == "/api/spe_fund"} == {
        "2024-03-01T10:05:00+08:00"
    }
    (sr,) = report.streams
    assert (sr.counts.read, sr.counts.inserted, sr.counts.updated) == (3, 1, 1)  # ZX0005 again, unchanged
    funds = _funds(engine)
    assert funds["ZX0002"][0] == "专项资金2（调整）" and "ZX0006" in funds
    assert _state(engine).cursor == "2024-03-01T10:31:00+08:00"


def test_a_failing_api_fails_the_stream_and_keeps_what_committed(
    engine: Engine, api: Starlette, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _regions(engine, tmp_path / "regions")
    monkeypatch.setenv("ZXZJ_TOKEN", "t")
    api.state.store.put("spe_fund", [fund(i) for i in range(1, 9)])
    faults(api).skip, faults(api).garbage = 4, 1  # newest, then pages 1-3 answer; page 4 is garbage
    src = parse_config(_sync_config(base_url, page_size=2))["zxzj"]

    report = sync_source(engine, src, chunk_size=2, monitor=False)
    assert not report.ok
    assert "page 4 of /spe_fund: the body is not JSON (text/html" in (report.error or "")
    state = _state(engine)
    assert state.status == "failed" and "not JSON" in state.last_error
    stored = sorted(_funds(engine))
    assert stored and len(stored) < 8
    # the bookmark covers exactly the rows that committed with it
    assert state.cursor == f"2024-03-01T10:0{len(stored)}:00+08:00"

    report = sync_source(engine, src, chunk_size=2, monitor=False)  # the API is well again
    assert report.ok, report.error
    assert sorted(_funds(engine)) == [f"ZX{i:04d}" for i in range(1, 9)]
    assert _state(engine).cursor == "2024-03-01T10:08:00+08:00"
