"""The rules and the warnings ledger over REST and GraphQL, on SQLite and PostgreSQL: filters and pages,
scope, the lifecycle through the API, statistics and escalations checked by hand, and hostile input."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor import ledger
from tests.auth import api_client
from tests.factories import indicator, payment
from tests.monitor_kit import load, run
from tests.test_monitor_lifecycle import add_step, add_warning

PROVINCE, ZHENGZHOU, ZHONGYUAN, JINSHUI = "410000000", "410100000", "410102000", "410105000"
TODAY = date(2025, 10, 15)  # after the National Day holiday (1-8 October 2025, 28 Sep and 11 Oct worked)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "china_today", lambda: TODAY)


def utc(text: str) -> datetime:
    """A UTC time from its China time (UTC+8)."""
    return datetime.fromisoformat(text) - ledger.CHINA


def ledger_set(engine: Engine) -> dict[str, int]:
    """Seven warnings, figures chosen to be checked by hand (see test_stats_by_hand)."""
    w = {
        "W1": add_warning(
            engine,
            detected_at=utc("2025-09-24T10:00"),  # 11 working days before TODAY: overdue
            related=[("payment", "PX9")],
        ),
        "W2": add_warning(
            engine,
            mof_div_code=ZHONGYUAN,
            amount_fen=123_456,
            occurred_on=date(2025, 3, 20),
            status="verified",
            verdict="violation",
            payee_key="PK1",
        ),
        "W3": add_warning(
            engine,
            rule_code="PRG-01",
            rule_group="拨付进度",
            object_type="agency",
            mof_div_code=JINSHUI,
            agency_code=None,
            amount_fen=1,
            occurred_on=date(2025, 4, 1),
            status="rectifying",
            verdict="violation",
        ),
        "W4": add_warning(
            engine,
            rule_code="PRG-01",
            rule_group="拨付进度",
            object_type="agency",
            level="red",
            agency_code="001",
            amount_fen=10_000,
            occurred_on=date(2025, 4, 30),
            status="rectified",
            verdict="violation",
            closed_at=datetime(2025, 9, 20),
        ),
        "W5": add_warning(
            engine,
            mof_div_code=JINSHUI,
            agency_code="002",
            amount_fen=9_999,
            occurred_on=date(2025, 4, 15),
            # 26 Sep in China (25 Sep UTC): 13 weekdays before TODAY, but 9 working days: not overdue
            detected_at=utc("2025-09-26T07:00"),
        ),
        "W6": add_warning(
            engine, amount_fen=777, occurred_on=date(2025, 5, 1), cleared_at=datetime(2025, 9, 30)
        ),
        "W7": add_warning(
            engine,
            rule_code="PRG-01",
            rule_group="拨付进度",
            object_type="agency",
            agency_code="001",
            fiscal_year=2024,
            amount_fen=500,
            occurred_on=date(2025, 5, 10),
            status="rectifying",
            verdict="violation",
        ),
    }
    add_step(engine, w["W3"], utc("2025-09-26T08:00"), "start_rectification", "rectifying")  # not overdue
    add_step(engine, w["W7"], utc("2025-09-24T11:00"), "start_rectification", "rectifying")  # overdue
    return w


def ids(client: TestClient, **params: Any) -> set[int]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get("/v1/warnings", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        rows += r.json()["rows"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return {row["id"] for row in rows}


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    body = gql(client, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


# --- the rules ----------------------------------------------------------------------------------------


def test_rule_catalogue(engine: Engine) -> None:
    with api_client(engine) as c:
        rules = c.get("/v1/rules").json()["rows"]
        use = next(r for r in rules if r["code"] == "USE-01")
        assert use["group"] == "资金使用" and use["name"] and use["basis"] and use["enabled"] is True
        assert {p["name"]: (p["default"], p["value"]) for p in use["params"]}["single_limit_yuan"][
            0
        ] == 50_000
        assert c.get("/v1/rules/USE-01").json() == use
        assert c.get("/v1/rules/NOPE-99").status_code == 404
        found = data(c, "{ rules { code group level params { name default value } } }")["rules"]
        assert [r["code"] for r in found] == [r["code"] for r in rules]
        one = data(c, '{ rule(code: "USE-01") { code firesWhen } missing: rule(code: "NOPE") { code } }')
        assert one["rule"]["code"] == "USE-01" and one["missing"] is None


# --- lists -----------------------------------------------------------------------------------------------


def test_list_filters_and_pages(engine: Engine) -> None:
    w = ledger_set(engine)

    def named(*names: str) -> set[int]:
        return {w[n] for n in names}

    with api_client(engine) as c:
        assert ids(c) == named("W1", "W2", "W3", "W4", "W5", "W7")
        cases: list[tuple[dict[str, Any], set[int]]] = [
            ({"rule": "PRG-01"}, named("W3", "W4", "W7")),
            ({"group": "资金使用"}, named("W1", "W2", "W5")),
            ({"level": "red"}, named("W4")),
            ({"status": "rectifying"}, named("W3", "W7")),
            ({"verdict": "violation"}, named("W2", "W3", "W4", "W7")),
            ({"object_type": "agency"}, named("W3", "W4", "W7")),
            ({"object_id": "PX9"}, named("W1")),  # a related object, not the primary
            ({"region": ZHENGZHOU}, named("W1", "W2", "W3", "W4", "W5", "W7")),
            ({"region": ZHENGZHOU, "own_level": "true"}, named("W1", "W4", "W7")),
            ({"region": JINSHUI}, named("W3", "W5")),
            ({"agency_code": "001001"}, named("W1", "W2")),
            ({"payee_key": "PK1"}, named("W2")),
            ({"fiscal_year": 2024}, named("W7")),
            ({"occurred_from": "2025-04-01", "occurred_to": "2025-04-30"}, named("W3", "W4", "W5")),
            ({"detected_from": "2025-09-26"}, named("W5")),  # a day in China
            ({"detected_to": "2025-09-25"}, named("W1", "W2", "W3", "W4", "W7")),
            ({"min_amount": "100.00"}, named("W1", "W2", "W4")),
            ({"max_amount": "99.99"}, named("W3", "W5", "W7")),
            ({"include_cleared": "true"}, named("W1", "W2", "W3", "W4", "W5", "W6", "W7")),
            ({"overdue": "true"}, named("W1", "W7")),
            ({"rule": "USE-01", "status": "pending", "region": JINSHUI}, named("W5")),
        ]
        for params, expected in cases:
            assert ids(c, **params) == expected, params
        pages: list[list[int]] = []
        cursor = None
        while True:
            body = c.get("/v1/warnings", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            pages.append([r["id"] for r in body["rows"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        flat = [i for p in pages for i in p]
        assert [len(p) for p in pages] == [2, 2, 2] and flat == sorted(flat, reverse=True)
        by_amount = c.get("/v1/warnings", params={"sort": "amount", "limit": 4}).json()
        assert [r["amount"] for r in by_amount["rows"]] == ["0.01", "5.00", "99.99", "100.00"]
        rest = c.get("/v1/warnings", params={"sort": "amount", "cursor": by_amount["next_cursor"]}).json()
        assert [r["amount"] for r in rest["rows"]] == ["1234.56", "60000.00"]
        dated = c.get("/v1/warnings", params={"sort": "-occurred_on", "limit": 5}).json()
        more = c.get("/v1/warnings", params={"sort": "-occurred_on", "cursor": dated["next_cursor"]}).json()
        days = [r["occurred_on"] for r in dated["rows"] + more["rows"]]
        assert days == sorted(days, reverse=True) and len(days) == 6
        mixed = c.get("/v1/warnings", params={"sort": "amount", "cursor": dated["next_cursor"]})
        assert mixed.status_code == 400 and "cursor" in mixed.json()["detail"]
        # GraphQL: the same filters and pages
        query = """query($f: WarningFilter, $after: String) {
          warnings(filter: $f, first: 2, after: $after) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { id status amount overdue } } } }"""
        got: list[int] = []
        after = None
        while True:
            page = data(c, query, f={"overdue": False}, after=after)["warnings"]
            assert page["totalCount"] == 6
            got += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert got == flat
        late = data(c, query, f={"overdue": True, "minAmount": "5.00"})["warnings"]
        assert {e["node"]["id"] for e in late["edges"]} == named("W1", "W7") and late["totalCount"] == 2


def test_one_warning_from_a_real_run_with_links(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[payment("P1", "60000.00", set_mode_code="2")],
    )
    run(engine, "USE-01")
    with api_client(engine, region=ZHENGZHOU) as c:
        rows = c.get("/v1/warnings", params={"rule": "USE-01"}).json()["rows"]
        assert [(r["object_id"], r["region"], r["amount"], r["status"]) for r in rows] == [
            ("P1", ZHENGZHOU, "60000.00", "pending")
        ]
        wid = rows[0]["id"]
        detail = c.get(f"/v1/warnings/{wid}").json()
        assert detail["objects"] == [
            {
                "object_type": "payment",
                "object_id": "P1",
                "is_primary": True,
                "link": "/v1/payments/P1",
                "trace": "/v1/indicators/B1/trace",
                "region": ZHENGZHOU,
                "bgt_id": "B1",
            }
        ]
        assert c.get(detail["objects"][0]["link"]).status_code == 200
        assert c.get(detail["objects"][0]["trace"]).status_code == 200
        assert detail["evidence"] and detail["message"] and detail["steps"] == []
        assert detail["allowed_actions"] == ["verify"] and detail["rule_name"]
        assert not any(isinstance(v, float) for v in detail["evidence"].values())
        g = data(
            c,
            """query($id: Int!) { warning(id: $id) { id amount evidence message allowedActions
                rule { code } objects { objectType objectId link trace
                payment { payCertId amount } indicator { bgtId } } } }""",
            id=wid,
        )["warning"]
        assert g["evidence"] == detail["evidence"] and g["amount"] == "60000.00"
        assert g["objects"][0]["payment"] == {"payCertId": "P1", "amount": "60000.00"}
        assert g["objects"][0]["indicator"] == {"bgtId": "B1"} and g["rule"] == {"code": "USE-01"}


# --- scope -----------------------------------------------------------------------------------------------


def test_a_county_sees_only_its_own_warnings(engine: Engine) -> None:
    w = ledger_set(engine)
    with api_client(engine, region=ZHONGYUAN) as county:
        assert ids(county, include_cleared="true") == {w["W2"]}
        foreign = county.get(f"/v1/warnings/{w['W5']}")
        missing = county.get("/v1/warnings/999999")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["title"] == missing.json()["title"]
        assert county.get("/v1/warnings", params={"region": JINSHUI}).status_code == 404
        stats = county.get("/v1/warnings/stats", params={"by": "region", "include_cleared": "true"}).json()
        assert [(r["key"], r["count"]) for r in stats["rows"]] == [(ZHONGYUAN, 1)]
        assert stats["total"]["amount"] == "1234.56"
        escalated = county.get("/v1/warnings/escalations", params={"month": "2025-06"}).json()["rows"]
        assert [(r["region"], [m["open"] for m in r["months"]]) for r in escalated] == [
            (ZHONGYUAN, [1, 1, 1])
        ]
        g = data(
            county,
            "query($id: Int!) { warning(id: $id) { id } warnings(first: 50) { totalCount } "
            "warningStats(by: region) { total { count amount } } }",
            id=w["W5"],
        )
        assert g["warning"] is None and g["warnings"]["totalCount"] == 1
        assert g["warningStats"]["total"] == {"count": 1, "amount": "1234.56"}
    with api_client(engine, region=JINSHUI) as other:
        assert ids(other) == {w["W3"], w["W5"]}
    with api_client(engine) as province:
        escalated = province.get("/v1/warnings/escalations", params={"month": "2025-06"}).json()["rows"]
        assert [r["region"] for r in escalated] == [ZHENGZHOU, ZHONGYUAN, JINSHUI]


# --- statistics --------------------------------------------------------------------------------------


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["count"], row["amount"], row["handled"], row["handling_rate"], row["closed"], row["overdue"])


def test_stats_by_hand(engine: Engine) -> None:
    ledger_set(engine)
    with api_client(engine) as c:
        by_rule = c.get("/v1/warnings/stats", params={"by": "rule"}).json()
        assert by_rule["handling_days"] == 10 and by_rule["today"] == "2025-10-15"
        assert {r["key"]: figures(r) for r in by_rule["rows"]} == {
            "PRG-01": (3, "105.01", 3, "1.0000", 1, 1),
            "USE-01": (3, "61334.55", 1, "0.3333", 0, 1),
        }
        assert figures(by_rule["total"]) == (6, "61439.56", 4, "0.6667", 1, 2)
        assert {r["key"]: r["name"] for r in by_rule["rows"]}["USE-01"] == "大额提取现金"
        by_region = c.get("/v1/warnings/stats", params={"by": "region"}).json()
        assert [(r["key"], r["name"], *figures(r)) for r in by_region["rows"]] == [
            (ZHENGZHOU, "郑州市", 3, "60105.00", 2, "0.6667", 1, 2),
            (ZHONGYUAN, "中原区", 1, "1234.56", 1, "1.0000", 0, 0),
            (JINSHUI, "金水区", 2, "100.00", 1, "0.5000", 0, 0),
        ]
        by_month = c.get("/v1/warnings/stats", params={"by": "month"}).json()
        assert [(r["key"], r["count"], r["amount"]) for r in by_month["rows"]] == [
            ("2025-03", 2, "61234.56"),
            ("2025-04", 3, "200.00"),
            ("2025-05", 1, "5.00"),
        ]
        by_agency = c.get("/v1/warnings/stats", params={"by": "agency"}).json()
        assert [(r["key"], r["count"]) for r in by_agency["rows"]] == [
            (f"{ZHENGZHOU}:001", 2),
            (f"{ZHENGZHOU}:001001", 1),
            (f"{ZHONGYUAN}:001001", 1),
            (f"{JINSHUI}:002", 1),
            (None, 1),
        ]
        by_group = c.get("/v1/warnings/stats", params={"by": "group", "include_cleared": "true"}).json()
        assert {r["key"]: r["count"] for r in by_group["rows"]} == {"拨付进度": 3, "资金使用": 4}
        filtered = c.get("/v1/warnings/stats", params={"by": "rule", "region": JINSHUI}).json()
        assert figures(filtered["total"]) == (2, "100.00", 1, "0.5000", 0, 0)
        empty = c.get("/v1/warnings/stats", params={"by": "rule", "rule": "ACC-01"}).json()
        assert empty["rows"] == [] and figures(empty["total"]) == (0, "0.00", 0, None, 0, 0)
        # the overdue rows are the overdue list's
        assert ids(c, overdue="true") == {
            r["id"] for r in c.get("/v1/warnings", params={"overdue": "true"}).json()["rows"]
        }


def test_handling_rate_is_exact() -> None:
    assert ledger.handling_rate(1, 3) == "0.3333"
    assert ledger.handling_rate(2, 3) == "0.6667"
    assert ledger.handling_rate(1, 8) == "0.1250"
    assert ledger.handling_rate(1, 20000) == "0.0001"  # half up
    assert ledger.handling_rate(1, 20001) == "0.0000"
    assert ledger.handling_rate(5, 5) == "1.0000" and ledger.handling_rate(0, 0) is None


def test_overdue_counts_working_days_over_a_holiday() -> None:
    # counting back from 15 October 2025: 15, 14, 13, 11 (a Saturday worked), 10, 9, [1-8 holiday], 30, 29,
    # 28 September (a Sunday worked), 26, then 25: the 11th working day
    assert ledger.overdue_before(TODAY, 10) == utc("2025-09-25T00:00")
    assert ledger.overdue_before(date(2025, 3, 14), 1) == utc("2025-03-13T00:00")


# --- escalations ---------------------------------------------------------------------------------------


def escalation_set(engine: Engine) -> dict[str, int]:
    return {
        # 中原区: open at the ends of April, May and June
        "A1": add_warning(engine, mof_div_code=ZHONGYUAN, occurred_on=date(2025, 4, 10)),
        "A2": add_warning(engine, mof_div_code=ZHONGYUAN, occurred_on=date(2025, 5, 20)),
        # 金水区: a gap in May (the April one closed on 10 May, the next occurred in June)
        "B1": add_warning(
            engine,
            mof_div_code=JINSHUI,
            occurred_on=date(2025, 4, 5),
            status="rectified",
            closed_at=datetime(2025, 5, 10),
        ),
        "B2": add_warning(engine, mof_div_code=JINSHUI, occurred_on=date(2025, 6, 1)),
        # 郑州市: closed at 00:30 on 1 July in China, so still open at the end of June ...
        "C1": add_warning(
            engine, occurred_on=date(2025, 4, 1), status="rectified", closed_at=utc("2025-07-01T00:30")
        ),
        # ... and one closed at 23:59 on 30 June, open at the ends of April and May only
        "C2": add_warning(
            engine,
            occurred_on=date(2025, 4, 2),
            status="verified",
            verdict="no_issue",
            closed_at=utc("2025-06-30T23:59"),
        ),
    }


def test_escalations_need_consecutive_month_ends(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    w = escalation_set(engine)
    with api_client(engine) as c:
        body = c.get("/v1/warnings/escalations", params={"month": "2025-06"}).json()
        assert body["months"] == ["2025-04", "2025-05", "2025-06"] and body["escalation_months"] == 3
        assert [(r["region"], [m["open"] for m in r["months"]], r["oldest"]["id"]) for r in body["rows"]] == [
            (ZHENGZHOU, [2, 2, 1], w["C1"]),
            (ZHONGYUAN, [1, 2, 2], w["A1"]),
        ]
        assert body["rows"][1]["region_name"] == "中原区"
        default = c.get("/v1/warnings/escalations").json()  # the newest occurred_on: June
        assert default == body
        july = c.get("/v1/warnings/escalations", params={"month": "2025-07"}).json()
        assert [(r["region"], [m["open"] for m in r["months"]]) for r in july["rows"]] == [
            (ZHONGYUAN, [2, 2, 2])
        ]
        within = c.get("/v1/warnings/escalations", params={"month": "2025-06", "region": JINSHUI}).json()
        assert within["rows"] == []
        g = data(
            c,
            'query { warningEscalations(month: "2025-06") { month months escalationMonths '
            "rows { region regionName months { month open } oldest { id } } } }",
        )["warningEscalations"]
        assert g["months"] == body["months"]
        assert [(r["region"], [m["open"] for m in r["months"]], r["oldest"]["id"]) for r in g["rows"]] == [
            (r["region"], [m["open"] for m in r["months"]], r["oldest"]["id"]) for r in body["rows"]
        ]
    with api_client(engine, region=ZHONGYUAN) as county:
        own = county.get("/v1/warnings/escalations").json()  # its newest occurred_on: May
        assert own["month"] == "2025-05" and own["rows"] == []
        june = county.get("/v1/warnings/escalations", params={"month": "2025-06"}).json()
        assert [r["region"] for r in june["rows"]] == [ZHONGYUAN]
    monkeypatch.setenv("OVERSIGHT_MONITOR_ESCALATION_MONTHS", "2")
    with api_client(engine) as c:
        two = c.get("/v1/warnings/escalations", params={"month": "2025-06"}).json()
        assert two["months"] == ["2025-05", "2025-06"]
        assert [r["region"] for r in two["rows"]] == [ZHENGZHOU, ZHONGYUAN]


# --- REST and GraphQL ----------------------------------------------------------------------------------

STATS = """query($by: WarningStatsBy!, $f: WarningFilter) { warningStats(by: $by, filter: $f) {
  by handlingDays today total { count amount handled handlingRate closed overdue }
  rows { key name figures { count amount handled handlingRate closed overdue } } } }"""


def test_rest_and_graphql_give_the_same_figures(engine: Engine) -> None:
    ledger_set(engine)
    with api_client(engine) as c:
        for by in ("rule", "group", "region", "agency", "month"):
            for rest_filter, graph_filter in (
                ({}, None),
                ({"region": JINSHUI, "include_cleared": "true"}, {"region": JINSHUI, "includeCleared": True}),
                (
                    {"min_amount": "5.00", "status": "rectifying"},
                    {"minAmount": "5.00", "status": "rectifying"},
                ),
            ):
                rest = c.get("/v1/warnings/stats", params={"by": by, **rest_filter}).json()
                g = data(c, STATS, by=by, f=graph_filter)["warningStats"]

                def flat(x: dict[str, Any]) -> tuple[Any, ...]:
                    return (
                        x["count"],
                        x["amount"],
                        x["handled"],
                        x["handlingRate"],
                        x["closed"],
                        x["overdue"],
                    )

                assert [(r["key"], r["name"], *figures(r)) for r in rest["rows"]] == [
                    (r["key"], r["name"], *flat(r["figures"])) for r in g["rows"]
                ]
                assert figures(rest["total"]) == flat(g["total"])
        listed = c.get("/v1/warnings", params={"limit": 500}).json()["rows"]
        g = data(
            c, "{ warnings(first: 500) { edges { node { id status amount overdue region occurredOn } } } }"
        )
        assert [
            (r["id"], r["status"], r["amount"], r["overdue"], r["region"], r["occurred_on"]) for r in listed
        ] == [
            (n["id"], n["status"], n["amount"], n["overdue"], n["region"], n["occurredOn"])
            for n in (e["node"] for e in g["warnings"]["edges"])
        ]


# --- the lifecycle through the API -------------------------------------------------------------------


TRANSITION = """mutation($id: Int!, $action: WarningAction!, $verdict: WarningVerdict, $comment: String!) {
  transitionWarning(id: $id, action: $action, verdict: $verdict, comment: $comment) {
    id status verdict closedAt steps { action fromStatus toStatus verdict actorSub actorBody comment } } }"""


def test_transitions_over_rest_and_graphql(engine: Engine) -> None:
    w = ledger_set(engine)
    target = w["W1"]  # pending, in 郑州市 itself
    path = f"/v1/warnings/{target}/transitions"
    with api_client(engine, body="finance", region=ZHENGZHOU) as finance:
        before = finance.get(f"/v1/warnings/{target}").json()
        assert before["status"] == "pending" and before["steps"] == []
        illegal = finance.post(path, json={"action": "complete_rectification", "comment": "x"})
        assert illegal.status_code == 409 and "pending" in illegal.json()["detail"]
        assert "allowed: verify" in illegal.json()["detail"]
        assert illegal.headers["content-type"] == "application/problem+json"
        no_verdict = finance.post(path, json={"action": "verify", "comment": "checked"})
        assert no_verdict.status_code == 422 and "verdict" in no_verdict.json()["detail"]
        no_comment = finance.post(path, json={"action": "verify", "verdict": "violation", "comment": " "})
        assert no_comment.status_code == 422 and "comment" in no_comment.json()["detail"]
        missing = finance.post(path, json={"action": "verify", "verdict": "violation"})
        assert missing.status_code == 422
        too_long = finance.post(
            path, json={"action": "verify", "verdict": "violation", "comment": "长" * 2001}
        )
        assert too_long.status_code == 422 and "2000" in too_long.json()["detail"]
        done = finance.post(path, json={"action": "verify", "verdict": "violation", "comment": "确属违规"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["verdict"]) == ("verified", "violation")
        after = finance.get(f"/v1/warnings/{target}").json()  # never a cached answer
        assert after["status"] == "verified" and after["allowed_actions"] == ["start_rectification"]
        assert [
            (s["action"], s["from_status"], s["to_status"], s["actor_body"], s["comment"])
            for s in after["steps"]
        ] == [("verify", "pending", "verified", "finance", "确属违规")]
        g = data(finance, TRANSITION, id=target, action="start_rectification", comment="整改通知已下发")
        assert g["transitionWarning"]["status"] == "rectifying"
        refused = gql(finance, TRANSITION, id=target, action="verify", verdict="no_issue", comment="x")
        assert (
            refused["data"] is None and "allowed: complete_rectification" in refused["errors"][0]["message"]
        )
        final = finance.post(path, json={"action": "complete_rectification", "comment": "资金已追回"}).json()
        assert final["status"] == "rectified" and final["closed_at"] is not None
        assert [s["to_status"] for s in final["steps"]] == ["verified", "rectifying", "rectified"]
        stats = finance.get("/v1/warnings/stats", params={"by": "rule", "rule": "USE-01"}).json()
        assert figures(stats["total"]) == (3, "61334.55", 2, "0.6667", 1, 0)
    other = w["W5"]  # pending, in 金水区
    body = {"action": "verify", "verdict": "no_issue", "comment": "x"}
    with api_client(engine, body="finance", region=ZHENGZHOU) as city:
        above = city.post(f"/v1/warnings/{other}/transitions", json=body)
        assert above.status_code == 403 and JINSHUI in above.json()["detail"]
        g = gql(city, TRANSITION, id=other, action="verify", verdict="no_issue", comment="x")
        assert g["data"] is None and JINSHUI in g["errors"][0]["message"]
    with api_client(engine, body="finance", region=ZHONGYUAN) as sibling:
        assert sibling.post(f"/v1/warnings/{other}/transitions", json=body).status_code == 404
        assert sibling.post("/v1/warnings/999999/transitions", json=body).status_code == 404
    for reader in ("congress", "audit", "discipline"):
        with api_client(engine, body=reader, region=JINSHUI) as c:
            r = c.post(f"/v1/warnings/{other}/transitions", json=body)
            assert r.status_code == 403 and reader in r.json()["detail"]
            g = gql(c, TRANSITION, id=other, action="verify", verdict="no_issue", comment="x")
            assert g["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with api_client(engine, body="finance", region=JINSHUI) as own:
        ok = own.post(f"/v1/warnings/{other}/transitions", json=body).json()
        assert ok["status"] == "verified" and ok["verdict"] == "no_issue" and ok["closed_at"] is not None
        assert ok["steps"][0]["actor_body"] == "finance"


# --- hostile input ------------------------------------------------------------------------------------


def test_hostile_input_is_4xx(engine: Engine) -> None:
    w = ledger_set(engine)
    with api_client(engine) as c:
        for path, params, status in [
            ("/v1/warnings/abc", {}, 422),
            ("/v1/warnings/0", {}, 422),
            ("/v1/warnings/-1", {}, 422),
            ("/v1/warnings/99999999999999999999", {}, 422),
            ("/v1/warnings/999999", {}, 404),
            ("/v1/warnings/stats", {"by": "planet"}, 422),
            ("/v1/warnings/stats", {"by": "rule", "min_amount": "abc"}, 400),
            ("/v1/warnings/stats", {"by": "rule", "min_amount": "9", "max_amount": "1"}, 400),
            ("/v1/warnings/escalations", {"month": "2025-13"}, 400),
            ("/v1/warnings/escalations", {"month": "0000-01"}, 400),
            ("/v1/warnings/escalations", {"month": "June"}, 422),
            ("/v1/warnings/escalations", {"region": "999999999"}, 404),
            ("/v1/warnings", {"cursor": "garbage!"}, 400),
            ("/v1/warnings", {"status": "closed"}, 422),
            ("/v1/warnings", {"sort": "message"}, 422),
            ("/v1/warnings", {"min_amount": "1.234"}, 400),
            ("/v1/warnings", {"occurred_from": "2025-05-01", "occurred_to": "2025-04-01"}, 400),
            ("/v1/warnings", {"object_id": "a\x00b"}, 422),
            ("/v1/warnings", {"region": "999999999"}, 404),
            ("/v1/warnings", {"own_level": "true", "region": "41010000x"}, 422),
            ("/v1/warnings", {"limit": 0}, 422),
            ("/v1/rules/%00", {}, 422),
        ]:
            r = c.get(path, params=params)
            assert r.status_code == status, (path, params, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        for query in (
            "{ warning(id: -1) { id } }",
            "{ warning(id: 99999999999) { id } }",
            "{ warningStats(by: planet) { by } }",
            '{ warningEscalations(month: "2025-13") { month } }',
            '{ warnings(filter: {minAmount: "x"}) { totalCount } }',
            '{ warnings(filter: {status: "closed"}) { totalCount } }',
            '{ warnings(after: "nope") { totalCount } }',
            '{ warnings(sort: "evil") { totalCount } }',
            "{ warnings(first: 100000) { totalCount } }",
        ):
            body = gql(c, query)
            assert body.get("errors"), query
            assert all("Unexpected error" not in e["message"] for e in body["errors"]), (query, body)
    with api_client(engine, body="finance", region=ZHENGZHOU) as finance:
        target = f"/v1/warnings/{w['W1']}/transitions"
        for payload in (
            None,
            [],
            {"action": "fly", "comment": "x"},
            {"action": "verify", "verdict": "maybe", "comment": "x"},
        ):
            r = finance.post(target, json=payload)
            assert r.status_code == 422, (payload, r.text)
        assert (
            finance.post(
                target, content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert finance.post("/v1/warnings/abc/transitions", json={"action": "verify"}).status_code == 422
        body = gql(
            finance,
            TRANSITION.replace("$action: WarningAction!", "$action: String!"),
            id=w["W1"],
            action="x",
            comment="c",
        )
        assert body.get("errors")
