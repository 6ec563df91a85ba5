"""Inquiries (询问函) on SQLite and PostgreSQL: the whole lifecycle over REST and GraphQL with its history,
deadlines in Chinese working days (holidays and 调休, per region), overdue inquiries and their sweep,
routing and scope for each kind of object, who may take which step, hostile input, and the outbox rows
written in the step's own transaction (and none when the step fails)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.inquiries import lifecycle, workdays
from api.inquiries.lifecycle import Actor
from connectors.delivery import config as delivery_config
from connectors.delivery.config import FeedbackConfig, Subscription
from monitor import ledger
from schema.feedback import Inquiry, InquiryStep, Outbox
from tests.auth import api_client, token
from tests.factories import agency, indicator, payment
from tests.monitor_kit import load
from tests.test_monitor_lifecycle import add_warning

PROVINCE, ZHENGZHOU, ZHONGYUAN, JINSHUI = "410000000", "410100000", "410102000", "410105000"
KAIFENG = "410200000"
RAISED_ON = date(2025, 9, 30)  # the eve of the National Day holiday (1-8 October 2025; 11 October worked)
FIRST_DEADLINE = date(2025, 10, 14)  # 9, 10, 11 (Saturday, 调休), 13, 14 October
SHA = "ab" * 32
CONGRESS_ORG = "郑州市人大常委会预算工委"
CONFIG = FeedbackConfig(
    channels={"t": {"type": "fake"}},
    subscriptions=(Subscription(channel="t", events=frozenset({"inquiry.*"})),),
)


@pytest.fixture(autouse=True)
def setting(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Today is ``RAISED_ON`` unless a test moves it; the feedback configuration subscribes channel ``t``
    to every inquiry event; the read cache is off (see test_reads_are_never_served_from_the_cache)."""
    state: dict[str, Any] = {"today": RAISED_ON, "config": CONFIG}
    monkeypatch.setattr(ledger, "china_today", lambda: state["today"])
    monkeypatch.setattr(delivery_config, "current_config", lambda: state["config"])
    monkeypatch.setenv("OVERSIGHT_RESPONSE_CACHE_ENTRIES", "0")
    return state


def client(
    engine: Engine, body: str, region: str | None, *, sub: str | None = None, org: str | None = None
) -> TestClient:
    """A client of ``body`` for ``region``, as the user ``sub`` of organisation ``org``."""
    c = api_client(engine, body=body, region=region)
    c.headers["Authorization"] = f"Bearer {token(body, region, sub=sub or f'{body}-{region}', org=org)}"
    return c


def congress(engine: Engine, region: str = ZHENGZHOU, **kw: Any) -> TestClient:
    kw.setdefault("org", CONGRESS_ORG if region == ZHENGZHOU else f"人大{region}")
    return client(engine, "congress", region, **kw)


def finance(engine: Engine, region: str = ZHENGZHOU, **kw: Any) -> TestClient:
    return client(engine, "finance", region, org=f"财政局{region}", **kw)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> dict[str, Any]:
    """One object of each kind in 郑州市 and in 金水区, an indicator passed down to 中原区, and a
    provincial special fund used in 金水区; two warnings."""
    load(
        engine,
        tmp_path,
        agency=[
            agency("002", "金水区教育局", region=JINSHUI),
            agency("003", "中原区教育局", region=ZHONGYUAN),
        ],
        ba_bgt_info=[
            indicator("B1", "900000.00"),
            indicator("B2", "500000.00", region=JINSHUI, agency_code="002", spe_fund_code="F2"),
            indicator("B3", "300000.00", agency_code=None, rec_div_code=ZHONGYUAN),
        ],
        pay_voucher=[
            payment("P1", "60000.00"),
            payment("P2", "1000.00", mof_div_code=JINSHUI, agency_code="002", bgt_id="B2"),
        ],
        project=[
            {
                "mof_div_code": ZHENGZHOU,
                "pro_code": "PR1",
                "pro_name": "校舍维修",
                "agency_code": "001001",
                "update_time": "2025-01-02T09:00:00",
            },
            {
                "mof_div_code": JINSHUI,
                "pro_code": "PR2",
                "pro_name": "校车购置",
                "agency_code": "002",
                "update_time": "2025-01-02T09:00:00",
            },
        ],
        spe_fund=[
            {
                "spe_fund_code": "F1",
                "spe_fund_name": "郑州市教育专项",
                "mof_div_code": ZHENGZHOU,
                "update_time": "2025-01-02T09:00:00",
            },
            {
                "spe_fund_code": "F2",
                "spe_fund_name": "河南省义务教育专项",
                "mof_div_code": PROVINCE,
                "update_time": "2025-01-02T09:00:00",
            },
            {
                "spe_fund_code": "F3",
                "spe_fund_name": "金水区专项",
                "mof_div_code": JINSHUI,
                "update_time": "2025-01-02T09:00:00",
            },
        ],
    )
    return {
        "W1": add_warning(engine, object_id="P1"),
        "W2": add_warning(engine, mof_div_code=JINSHUI, object_id="P2", fiscal_year=2024),
    }


def ask(c: TestClient, object_type: str = "payment", object_id: str = "P1", **fields: Any) -> Any:
    body = {
        "object_type": object_type,
        "object_id": object_id,
        "subject": "大额提现用途",
        "question": "请说明用途",
    }
    return c.post("/v1/inquiries", json={**body, **fields})


def raised(
    c: TestClient, object_type: str = "payment", object_id: str = "P1", **fields: Any
) -> dict[str, Any]:
    r = ask(c, object_type, object_id, **fields)
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


def outbox(engine: Engine) -> list[dict[str, Any]]:
    """The outbox's events, oldest first: type, channel, region and the JSON document's audience and data."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Outbox.event_type, Outbox.channel, Outbox.region, Outbox.payload).order_by(Outbox.id)
        ).all()
        out = []
        for r in rows:
            doc = orjson.loads(r.payload)
            out.append({"type": r.event_type, "channel": r.channel, "region": r.region, **doc})
        return out


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (Inquiry, InquiryStep, Outbox)
        )


def gql(c: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    r = c.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(c: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    body = gql(c, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


# --- working days -----------------------------------------------------------------------------------------


def test_working_days_follow_the_chinese_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    assert workdays.add_workdays(date(2025, 9, 30), 5) == FIRST_DEADLINE  # over 国庆 and a 调休 Saturday
    assert workdays.add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Sunday 28 September is worked
    assert workdays.add_workdays(date(2025, 10, 10), 1) == date(2025, 10, 11)  # so is Saturday 11 October
    assert workdays.add_workdays(date(2025, 10, 11), 1) == date(2025, 10, 13)  # Sunday 12 is not
    assert workdays.add_workdays(date(2025, 10, 1), 0) == date(2025, 10, 1)
    with pytest.raises(ValueError):
        workdays.add_workdays(RAISED_ON, -1)
    # beyond the years the package knows: Monday to Friday
    monkeypatch.setattr(workdays, "known_until", lambda: date(2025, 9, 30))
    assert workdays.add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 7)
    assert workdays.add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 28)  # 28 September still official


def test_the_real_fallback_year_counts_monday_to_friday() -> None:
    from monitor.calendar import known_until

    first = known_until() + timedelta(days=1)  # 1 January of the first year the package does not know
    friday = first + timedelta(days=(4 - first.weekday()) % 7)
    assert workdays.add_workdays(friday, 1) == friday + timedelta(days=3)
    assert workdays.add_workdays(friday - timedelta(days=1), 1) == friday


# --- the whole lifecycle ----------------------------------------------------------------------------------


def test_whole_lifecycle_over_rest(engine: Engine, world: dict[str, Any], setting: dict[str, Any]) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        r = ask(asker)
        assert r.status_code == 201, r.text
        first = r.json()
        iid = first["id"]
        assert r.headers["location"] == f"/v1/inquiries/{iid}" == first["link"]
        assert (first["status"], first["round"], first["deadline"], first["overdue"]) == (
            "open",
            1,
            FIRST_DEADLINE.isoformat(),
            False,
        )
        assert (first["region"], first["region_name"], first["fiscal_year"]) == (ZHENGZHOU, "郑州市", 2025)
        assert (first["asker_body"], first["asker_org"], first["asker_region"]) == (
            "congress",
            CONGRESS_ORG,
            ZHENGZHOU,
        )
        assert (
            first["object_link"] == "/v1/payments/P1" and asker.get(first["object_link"]).status_code == 200
        )
        assert first["allowed_actions"] == [] and first["question"] == "请说明用途"
        assert bureau.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == ["answer"]

        files = [
            {
                "name": "说明.pdf",
                "media_type": "application/pdf",
                "size": 1024,
                "sha256": SHA,
                "url": "https://oa.example.gov.cn/f/1",
            }
        ]
        answered = bureau.post(
            f"/v1/inquiries/{iid}/answer", json={"answer": "系发放务工工资", "attachments": files}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "answered" and answered.json()["answered_at"] is not None
        assert asker.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == ["accept", "return"]

        setting["today"] = date(2025, 10, 9)
        returned = asker.post(f"/v1/inquiries/{iid}/return", json={"comment": "未附工资发放名册"}).json()
        # a new round, its deadline counted from the day it was returned: 10, 11 (调休), 13, 14, 15 October
        assert (returned["status"], returned["round"], returned["deadline"]) == ("returned", 2, "2025-10-15")
        assert bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "名册见附件二"}).status_code == 200
        accepted = asker.post(f"/v1/inquiries/{iid}/accept", json={"comment": "采纳"}).json()
        assert accepted["status"] == "accepted" and accepted["closed_at"] is not None
        assert accepted["allowed_actions"] == []

        history = bureau.get(f"/v1/inquiries/{iid}").json()
    assert history == {**accepted, "allowed_actions": []}
    assert [
        (s["action"], s["from_status"], s["to_status"], s["round"], s["actor_body"], s["via"], s["text"])
        for s in history["steps"]
    ] == [
        ("raise", None, "open", 1, "congress", "rest", "请说明用途"),
        ("answer", "open", "answered", 1, "finance", "rest", "系发放务工工资"),
        ("return", "answered", "returned", 2, "congress", "rest", "未附工资发放名册"),
        ("answer", "returned", "answered", 2, "finance", "rest", "名册见附件二"),
        ("accept", "answered", "accepted", 2, "congress", "rest", "采纳"),
    ]
    assert history["steps"][1]["attachments"] == files and history["steps"][3]["attachments"] == []
    assert history["steps"][0]["actor_org"] == CONGRESS_ORG
    events = outbox(engine)
    assert [(e["type"], e["channel"], e["region"], e["audience"]) for e in events] == [
        ("inquiry.raised", "t", ZHENGZHOU, ["finance"]),
        ("inquiry.answered", "t", ZHENGZHOU, ["congress"]),
        ("inquiry.returned", "t", ZHENGZHOU, ["finance"]),
        ("inquiry.answered", "t", ZHENGZHOU, ["congress"]),
        ("inquiry.accepted", "t", ZHENGZHOU, ["finance"]),
    ]
    assert events[0]["data"] == {
        "inquiry_id": iid,
        "object_type": "payment",
        "object_id": "P1",
        "subject": "大额提现用途",
        "status": "open",
        "round": 1,
        "deadline": FIRST_DEADLINE.isoformat(),
        "asker_body": "congress",
        "link": f"/v1/inquiries/{iid}",
    }
    # no free text leaves through a channel: the question, answer and comment are read through the API
    assert events[1]["data"]["attachments"] == len(files) and "answer" not in events[1]["data"]
    assert "comment" not in events[2]["data"] and events[2]["data"]["round"] == 2
    assert events[2]["data"]["deadline"] == "2025-10-15" and events[4]["data"]["status"] == "accepted"
    assert len({e["id"] for e in events}) == 5


RAISE = """mutation($input: RaiseInquiryInput!) { raiseInquiry(input: $input) {
    id status round deadline overdue region allowedActions steps { action via } } }"""
ANSWER = """mutation($id: Int!, $answer: String!, $files: [InquiryAttachmentInput!]) {
    answerInquiry(id: $id, answer: $answer, attachments: $files) {
        id status steps { action attachments { name sha256 size url } } } }"""
RETURN = """mutation($id: Int!, $comment: String!) { returnInquiry(id: $id, comment: $comment) {
    status round deadline } }"""
ACCEPT = """mutation($id: Int!, $comment: String) { acceptInquiry(id: $id, comment: $comment) {
    status closedAt allowedActions } }"""


def test_whole_lifecycle_over_graphql(engine: Engine, world: dict[str, Any], setting: dict[str, Any]) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        made = data(
            asker,
            RAISE,
            input={
                "objectType": "warning",
                "objectId": str(world["W1"]),
                "subject": "预警",
                "question": "整改了吗",
            },
        )["raiseInquiry"]
        iid = made["id"]
        assert (made["status"], made["round"], made["deadline"], made["region"]) == (
            "open",
            1,
            FIRST_DEADLINE.isoformat(),
            ZHENGZHOU,
        )
        assert made["steps"] == [{"action": "raise", "via": "graphql"}] and made["allowedActions"] == []
        refused = gql(asker, ACCEPT, id=iid)
        assert refused["data"] is None and "allowed: answer" in refused["errors"][0]["message"]
        files = [
            {"name": "a.xlsx", "mediaType": "application/vnd.ms-excel", "size": 0, "sha256": SHA.upper()}
        ]
        answered = data(bureau, ANSWER, id=iid, answer="已整改", files=files)["answerInquiry"]
        assert answered["status"] == "answered"
        assert answered["steps"][1]["attachments"] == [
            {"name": "a.xlsx", "sha256": SHA, "size": 0, "url": None}
        ]
        setting["today"] = date(2025, 10, 10)
        again = data(asker, RETURN, id=iid, comment="请附凭证")["returnInquiry"]
        assert again == {"status": "returned", "round": 2, "deadline": "2025-10-16"}
        data(bureau, ANSWER, id=iid, answer="凭证已附")
        done = data(asker, ACCEPT, id=iid)["acceptInquiry"]
        assert done["status"] == "accepted" and done["closedAt"] and done["allowedActions"] == []
        listed = data(
            bureau,
            """query($id: Int!) { inquiries(first: 10) { totalCount edges { cursor node { id objectType
                objectId status round question askerSub steps { action via round text } allowedActions } } }
                inquiry(id: $id) { id steps { action } } }""",
            id=iid,
        )
    assert listed["inquiries"]["totalCount"] == 1
    node = listed["inquiries"]["edges"][0]["node"]
    assert (node["objectType"], node["objectId"], node["status"], node["round"]) == (
        "warning",
        str(world["W1"]),
        "accepted",
        2,
    )
    assert node["question"] == "整改了吗" and node["askerSub"] == f"congress-{ZHENGZHOU}"
    assert [(s["action"], s["via"], s["round"]) for s in node["steps"]] == [
        ("raise", "graphql", 1),
        ("answer", "graphql", 1),
        ("return", "graphql", 2),
        ("answer", "graphql", 2),
        ("accept", "graphql", 2),
    ]
    assert [s["action"] for s in listed["inquiry"]["steps"]] == [
        "raise",
        "answer",
        "return",
        "answer",
        "accept",
    ]
    assert [e["type"] for e in outbox(engine)] == [
        "inquiry.raised",
        "inquiry.answered",
        "inquiry.returned",
        "inquiry.answered",
        "inquiry.accepted",
    ]


# --- deadlines and overdue ------------------------------------------------------------------------------


def test_deadline_days_per_region(engine: Engine, world: dict[str, Any], setting: dict[str, Any]) -> None:
    setting["config"] = FeedbackConfig(deadline_days=4, deadline_days_by_region={ZHENGZHOU: 7, JINSHUI: 2})
    with congress(engine, PROVINCE) as asker:
        # 郑州市 itself: 7 working days (9, 10, 11, 13, 14, 15, 16 October)
        assert raised(asker)["deadline"] == "2025-10-16"
        # 金水区 is below 郑州市 but has its own: the nearest configured region wins
        assert raised(asker, "payment", "P2")["deadline"] == "2025-10-10"
        # the province's own fund: neither, so the default
        assert raised(asker, "special_fund", "F2")["deadline"] == "2025-10-13"
    with engine.connect() as conn:
        cfg = setting["config"]
        assert lifecycle.deadline(conn, ZHONGYUAN, RAISED_ON, cfg) == date(2025, 10, 16)  # inherits 郑州市
        assert lifecycle.deadline(conn, KAIFENG, RAISED_ON, cfg) == date(2025, 10, 13)
        assert lifecycle.ancestors(conn, JINSHUI) == [JINSHUI, ZHENGZHOU, PROVINCE]


def test_overdue_flag_filter_and_sweep(
    engine: Engine, world: dict[str, Any], setting: dict[str, Any]
) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        late = raised(asker)["id"]
        answered = raised(asker, "indicator", "B1")["id"]
        bureau.post(f"/v1/inquiries/{answered}/answer", json={"answer": "已答复"})

        def overdue_ids(c: TestClient) -> set[int]:
            r = c.get("/v1/inquiries", params={"overdue": "true"})
            assert r.status_code == 200, r.text
            return {row["id"] for row in r.json()["rows"]}

        setting["today"] = FIRST_DEADLINE  # the last day to answer: not yet overdue
        assert overdue_ids(bureau) == set() and asker.get(f"/v1/inquiries/{late}").json()["overdue"] is False
        assert lifecycle.sweep_overdue(engine) == 0
        setting["today"] = FIRST_DEADLINE + timedelta(days=1)
        assert overdue_ids(bureau) == overdue_ids(asker) == {late}
        assert bureau.get(f"/v1/inquiries/{late}").json()["overdue"] is True
        assert bureau.get(f"/v1/inquiries/{answered}").json()["overdue"] is False  # answered in time
        assert data(
            bureau, "{ inquiries(filter: {overdue: true}) { totalCount edges { node { id overdue } } } }"
        )["inquiries"] == {"totalCount": 1, "edges": [{"node": {"id": late, "overdue": True}}]}

        before = len(outbox(engine))
        assert lifecycle.sweep_overdue(engine) == 1
        assert lifecycle.sweep_overdue(engine) == 0  # once per round
        told = outbox(engine)[before:]
        assert [(e["type"], e["audience"], e["data"]["inquiry_id"], e["data"]["round"]) for e in told] == [
            ("inquiry.overdue", ["congress", "finance"], late, 1)
        ]
        # answered late, returned: a new round with a new deadline, overdue again later, told again once
        bureau.post(f"/v1/inquiries/{late}/answer", json={"answer": "迟到的答复"})
        assert overdue_ids(bureau) == set()
        again = asker.post(f"/v1/inquiries/{late}/return", json={"comment": "不清楚"}).json()
        assert again["deadline"] == "2025-10-22" and again["overdue"] is False
        assert lifecycle.sweep_overdue(engine, today=date(2025, 10, 22)) == 0
        assert lifecycle.sweep_overdue(engine, today=date(2025, 10, 23)) == 1
        assert lifecycle.sweep_overdue(engine, today=date(2025, 10, 24)) == 0
    assert [e["data"]["round"] for e in outbox(engine) if e["type"] == "inquiry.overdue"] == [1, 2]
    with engine.connect() as conn:
        assert conn.execute(select(Inquiry.overdue_round).where(Inquiry.id == late)).scalar_one() == 2


# --- objects, routing and scope ---------------------------------------------------------------------------

READ_ROUTES = {
    "payment": "/v1/payments/{}",
    "indicator": "/v1/indicators/{}",
    "special_fund": "/v1/special-funds/{}",
    "warning": "/v1/warnings/{}",
}


@pytest.mark.parametrize(
    ("object_type", "outside", "missing"),
    [
        ("payment", "P1", "P404"),
        ("indicator", "B1", "B404"),
        ("project", f"{ZHENGZHOU}:PR1", f"{ZHENGZHOU}:PR404"),
        ("special_fund", "F1", "F404"),
        ("warning", "W1", "999999"),
    ],
)
def test_an_object_outside_the_askers_region_is_missing(
    engine: Engine, world: dict[str, Any], object_type: str, outside: str, missing: str
) -> None:
    """A 中原区 user asks about objects of 郑州市 (the city above it): each answers exactly like an
    object that does not exist, and as the object's own read route does."""
    outside = str(world["W1"]) if outside == "W1" else outside
    with congress(engine, ZHONGYUAN) as county, congress(engine, ZHENGZHOU) as city:
        foreign, absent = ask(county, object_type, outside), ask(county, object_type, missing)
        assert foreign.status_code == absent.status_code == 404
        assert foreign.json()["title"] == absent.json()["title"] == "Not found"
        assert foreign.json()["detail"] == absent.json()["detail"].replace(missing, outside)
        if object_type in READ_ROUTES:
            read = county.get(READ_ROUTES[object_type].format(outside))
            assert (read.status_code, read.json()["detail"]) == (404, foreign.json()["detail"])
        else:
            assert foreign.json()["detail"] == f"no project {outside}"
            g = data(county, "query($k: String!) { project(key: $k) { key } }", k=outside)
            assert g["project"] is None
        assert ask(city, object_type, outside).status_code == 201  # in 郑州市's own jurisdiction
    assert counts(engine)[0] == 1 and [e["type"] for e in outbox(engine)] == ["inquiry.raised"]


def test_each_object_is_routed_to_the_region_that_answers(engine: Engine, world: dict[str, Any]) -> None:
    with congress(engine, PROVINCE) as province:
        routed = {
            (t, i): (r["region"], r["fiscal_year"], r["object_id"], r["object_link"])
            for t, i in [
                ("payment", "P2"),
                ("indicator", "B3"),
                ("project", f"{JINSHUI}:PR2"),
                ("special_fund", "F2"),
                ("warning", str(world["W2"])),
            ]
            for r in [raised(province, t, i)]
        }
    assert routed == {
        ("payment", "P2"): (JINSHUI, 2025, "P2", "/v1/payments/P2"),
        ("indicator", "B3"): (ZHENGZHOU, 2025, "B3", "/v1/indicators/B3"),  # the issuing region
        ("project", f"{JINSHUI}:PR2"): (
            JINSHUI,
            None,
            f"{JINSHUI}:PR2",
            "/v1/projects?region=410105000&q=PR2",
        ),
        ("special_fund", "F2"): (PROVINCE, None, "F2", "/v1/special-funds/F2"),
        ("warning", str(world["W2"])): (JINSHUI, 2024, str(world["W2"]), f"/v1/warnings/{world['W2']}"),
    }
    # seen only as passed down (B3 to 中原区) or through its indicators (F2 in 金水区): the asker's own
    # region answers, so that the asker keeps seeing its inquiry
    with congress(engine, ZHONGYUAN) as county:
        got = raised(county, "indicator", "B3")
        assert (got["region"], county.get(got["link"]).status_code) == (ZHONGYUAN, 200)
    with congress(engine, JINSHUI) as district:
        got = raised(district, "special_fund", "F2")
        assert (got["region"], district.get(got["link"]).status_code) == (JINSHUI, 200)
    with congress(engine, ZHONGYUAN) as county:
        assert ask(county, "special_fund", "F3").status_code == 404  # 金水区's own fund, unused in 中原区


# --- who may take which step -------------------------------------------------------------------------------


def test_only_finance_of_the_inquirys_own_region_answers(engine: Engine, world: dict[str, Any]) -> None:
    with congress(engine, PROVINCE) as asker:
        iid = raised(asker, "payment", "P2")["id"]  # to 金水区
    body = {"answer": "答复"}
    path = f"/v1/inquiries/{iid}/answer"
    with finance(engine, ZHONGYUAN) as sibling:
        out = sibling.post(path, json=body)
        missing = sibling.post("/v1/inquiries/999999/answer", json=body)
        assert out.status_code == missing.status_code == 404 and out.json()["detail"] == f"no inquiry {iid}"
        assert sibling.get(f"/v1/inquiries/{iid}").status_code == 404
    for above in (ZHENGZHOU, PROVINCE):
        with finance(engine, above) as bureau:
            assert bureau.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == []
            r = bureau.post(path, json=body)
            assert r.status_code == 403 and JINSHUI in r.json()["detail"] and above in r.json()["detail"]
            g = gql(bureau, ANSWER, id=iid, answer="x")
            assert g["data"] is None and JINSHUI in g["errors"][0]["message"]
    with congress(engine, PROVINCE) as asker:
        r = asker.post(path, json=body)
        assert r.status_code == 403 and "congress" in r.json()["detail"]  # the permission table
        assert gql(asker, ANSWER, id=iid, answer="x")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with finance(engine, JINSHUI) as own:
        assert own.post(path, json=body).json()["status"] == "answered"
    with client(engine, "finance", JINSHUI) as colleague:  # another user of the same bureau may answer
        assert colleague.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == []  # answered: asker's turn
    for body_name in ("finance", "admin", "audit_admin"):
        with client(engine, body_name, ZHENGZHOU) as other:
            assert ask(other).status_code == 403
    assert [e["type"] for e in outbox(engine)] == ["inquiry.raised", "inquiry.answered"]


def test_only_the_asking_organisation_accepts_or_returns(engine: Engine, world: dict[str, Any]) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        iid = raised(asker)["id"]
        bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "答复"})
    with congress(engine, org="另一个委员会") as other_org:
        assert other_org.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == []
        for step, body in (("accept", {}), ("return", {"comment": "x"})):
            r = other_org.post(f"/v1/inquiries/{iid}/{step}", json=body)
            assert r.status_code == 403 and CONGRESS_ORG in r.json()["detail"], r.text
        g = gql(other_org, RETURN, id=iid, comment="x")
        assert g["data"] is None and CONGRESS_ORG in g["errors"][0]["message"]
    with client(engine, "audit", ZHENGZHOU, org=CONGRESS_ORG) as audit:  # another body: not even visible
        assert audit.post(f"/v1/inquiries/{iid}/accept", json={}).status_code == 404
    with congress(engine, sub="a-colleague") as colleague:  # the same organisation, another user
        assert colleague.get(f"/v1/inquiries/{iid}").json()["allowed_actions"] == ["accept", "return"]
        assert colleague.post(f"/v1/inquiries/{iid}/return", json={"comment": "再查"}).json()["round"] == 2
    # an asker without an organisation: only the same user
    with client(engine, "audit", ZHENGZHOU, sub="auditor-1") as alone, finance(engine) as bureau:
        jid = raised(alone)["id"]
        bureau.post(f"/v1/inquiries/{jid}/answer", json={"answer": "答复"})
        with client(engine, "audit", ZHENGZHOU, sub="auditor-2") as someone:
            r = someone.post(f"/v1/inquiries/{jid}/accept")
            assert r.status_code == 403 and "user who raised it" in r.json()["detail"]
        assert alone.post(f"/v1/inquiries/{jid}/accept").json()["status"] == "accepted"  # no body at all


def test_illegal_steps_are_409_naming_the_status(engine: Engine, world: dict[str, Any]) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        iid = raised(asker)["id"]
        for c, step, body in ((asker, "accept", {}), (asker, "return", {"comment": "x"})):
            r = c.post(f"/v1/inquiries/{iid}/{step}", json=body)
            assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
            assert f"cannot {step} an inquiry that is open (待答复); allowed: answer" == r.json()["detail"]
        bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "答复"})
        r = bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "再答一次"})
        assert r.status_code == 409 and "answered (已答复); allowed: accept, return" in r.json()["detail"]
        asker.post(f"/v1/inquiries/{iid}/accept", json={})
        for c, step, body in ((bureau, "answer", {"answer": "x"}), (asker, "return", {"comment": "x"})):
            r = c.post(f"/v1/inquiries/{iid}/{step}", json=body)
            assert r.status_code == 409 and "accepted (已采纳); allowed: none" in r.json()["detail"]
    assert counts(engine) == (1, 3, 3)


def test_hostile_input_is_422_naming_the_field(engine: Engine, world: dict[str, Any]) -> None:
    bad_raises: list[tuple[dict[str, Any], str]] = [
        ({"subject": "长" * 201}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "a\nb"}, "subject"),
        ({"question": "问" * 4001}, "question"),
        ({"question": ""}, "question"),
        ({"object_type": "agency"}, "object_type"),
        ({"object_type": "project", "object_id": "PR1"}, "object_id"),
        ({"object_type": "warning", "object_id": "W1"}, "object_id"),
        ({"object_id": "a\x00b"}, "object_id"),
        ({"object_id": "x" * 65}, "object_id"),
        ({"extra": 1}, "extra"),
    ]
    with congress(engine) as asker, finance(engine) as bureau:
        for fields, name in bad_raises:
            r = ask(asker, **fields)
            assert r.status_code == 422 and name in r.json()["detail"], (fields, r.text)
        assert (
            asker.post(
                "/v1/inquiries", content=b"{nope", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        iid = raised(asker)["id"]
        good = {"name": "a.pdf", "media_type": "application/pdf", "size": 1, "sha256": SHA}
        for files, name in [
            ([{**good, "sha256": "xyz"}], "sha256"),
            ([{**good, "sha256": "a" * 63}], "sha256"),
            ([{**good, "url": "ftp://example.cn/a.pdf"}], "url"),
            ([{**good, "url": "javascript:alert(1)"}], "url"),
            ([{**good, "size": -1}], "size"),
            ([{**good, "size": 2**31}], "size"),
            ([{**good, "media_type": "pdf"}], "media_type"),
            ([{**good, "name": ""}], "name"),
            ([good] * 21, "attachments"),
        ]:
            r = bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "a", "attachments": files})
            assert r.status_code == 422 and name in r.json()["detail"], (files, r.text)
        for answer, name in [("答" * 8001, "answer"), ("  ", "answer"), ("", "answer")]:
            r = bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": answer})
            assert r.status_code == 422 and name in r.json()["detail"], r.text
        g = gql(
            bureau,
            ANSWER,
            id=iid,
            answer="a",
            files=[{**{"name": "a", "mediaType": "text/plain", "size": 1}, "sha256": "nothex"}],
        )
        assert g["errors"][0]["message"].startswith("attachments[0].sha256"), g
        assert bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "答"}).status_code == 200
        for body in ({}, {"comment": ""}, {"comment": "  "}, {"comment": "长" * 2001}):
            r = asker.post(f"/v1/inquiries/{iid}/return", json=body)
            assert r.status_code == 422 and "comment" in r.json()["detail"], (body, r.text)
        assert asker.post(f"/v1/inquiries/{iid}/return").json()["detail"] == "request: Field required"
        r = asker.post(f"/v1/inquiries/{iid}/accept", json={"comment": "长" * 2001})
        assert r.status_code == 422 and "comment" in r.json()["detail"]
        for path, params, status in [
            ("/v1/inquiries/abc", {}, 422),
            ("/v1/inquiries/0", {}, 422),
            ("/v1/inquiries/99999999999", {}, 422),
            ("/v1/inquiries", {"status": "closed"}, 422),
            ("/v1/inquiries", {"object_type": "agency"}, 422),
            ("/v1/inquiries", {"cursor": "garbage!"}, 400),
            ("/v1/inquiries", {"raised_from": "2025-10-02", "raised_to": "2025-10-01"}, 400),
            ("/v1/inquiries", {"region": "999999999"}, 404),
            ("/v1/inquiries", {"region": "4101"}, 422),
            ("/v1/inquiries", {"limit": 0}, 422),
        ]:
            r = asker.get(path, params=params)
            assert r.status_code == status, (path, params, r.text)
        # GraphQL checks the same things in the service (its safe message names the field)
        for query, variables, name in [
            (
                RAISE,
                {
                    "input": {
                        "objectType": "payment",
                        "objectId": "P1",
                        "subject": "长" * 201,
                        "question": "q",
                    }
                },
                "subject",
            ),
            (
                RAISE,
                {"input": {"objectType": "project", "objectId": "x", "subject": "s", "question": "q"}},
                "object_id",
            ),
            (RETURN, {"id": iid, "comment": " "}, "comment"),
        ]:
            g = gql(asker, query, **variables)
            assert g["data"] is None and g["errors"][0]["message"].startswith(name), g
        g = gql(
            asker, RAISE, input={"objectType": "agency", "objectId": "P1", "subject": "s", "question": "q"}
        )
        assert g["errors"] and "Unexpected error" not in g["errors"][0]["message"]
        assert gql(asker, '{ inquiries(filter: {status: "closed"}) { totalCount } }')["errors"][0][
            "message"
        ].startswith("status")
        assert gql(asker, "{ inquiry(id: 0) { id } }")["errors"]
    assert counts(engine)[:2] == (1, 2)  # one raise, one answer: nothing else was written


def test_a_step_inside_the_callers_transaction(engine: Engine, world: dict[str, Any]) -> None:
    """The callback calls ``apply`` in its own transaction: the step, the inquiry and the outbox row are
    written together, and vanish together when that transaction rolls back."""
    asker = Actor(sub="c1", body="congress", region=ZHENGZHOU, org=CONGRESS_ORG)
    bureau = Actor(sub="hook", body="finance", region=ZHENGZHOU, org=None)
    with engine.begin() as conn:
        made = lifecycle.raise_inquiry(
            conn, "payment", "P1", actor=asker, subject="s", question="q", via="rest"
        )
    assert (made.round, made.deadline, made.from_status, made.to_status) == (1, FIRST_DEADLINE, None, "open")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        lifecycle.apply(
            conn, made.inquiry_id, "answer", actor=bureau, text="答复", attachments=[], via="channel:czj"
        )
        raise RuntimeError("the callback's receipt failed")
    assert counts(engine) == (1, 1, 1)
    step = lifecycle.transition(
        engine, made.inquiry_id, "answer", actor=bureau, text="答复", via="channel:czj-hook"
    )
    assert (step.from_status, step.to_status, step.round) == ("open", "answered", 1)
    assert counts(engine) == (1, 2, 2)
    with engine.connect() as conn:
        assert conn.execute(select(InquiryStep.via).order_by(InquiryStep.id.desc())).first() == (
            "channel:czj-hook",
        )
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (lifecycle.InvalidStep, {"action": "approve"}),
        (lifecycle.InvalidStep, {"action": "raise"}),
        (lifecycle.InvalidStep, {"via": "email"}),
        (lifecycle.InvalidStep, {"action": "accept", "attachments": [{"name": "a"}]}),
        (lifecycle.IllegalStep, {"action": "answer", "actor": bureau}),
        (lifecycle.NotPermitted, {"action": "accept", "actor": bureau}),
    ]
    for error, kwargs in cases:
        args: dict[str, Any] = {"action": "accept", "actor": asker, "text": None, "via": "rest", **kwargs}
        with pytest.raises(error):
            lifecycle.transition(engine, made.inquiry_id, args.pop("action"), **args)
    with pytest.raises(lifecycle.InquiryMissing):
        lifecycle.transition(engine, 999_999, "accept", actor=asker, text=None, via="rest")
    assert counts(engine) == (1, 2, 2)


def test_no_outbox_row_without_a_subscription_nor_for_a_refused_step(
    engine: Engine, world: dict[str, Any], setting: dict[str, Any]
) -> None:
    with congress(engine) as asker, finance(engine) as bureau:
        iid = raised(asker)["id"]
        assert counts(engine) == (1, 1, 1)
        for r in (
            asker.post(f"/v1/inquiries/{iid}/accept", json={}),  # 409
            bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": " "}),  # 422
            ask(asker, "payment", "P404"),  # 404
        ):
            assert r.status_code in (404, 409, 422)
        assert counts(engine) == (1, 1, 1)
        setting["config"] = FeedbackConfig(
            channels={"t": {"type": "fake"}},
            subscriptions=(Subscription(channel="t", events=frozenset({"warning.raised"})),),
        )
        bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "答复"})
        assert counts(engine) == (1, 2, 1)


def test_of_two_concurrent_steps_only_one_succeeds(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second answer read the inquiry open before the first one wrote it: its UPDATE, which names the
    status and round it read, changes nothing and it is refused with nothing of its own written."""
    asker = Actor(sub="c1", body="congress", region=ZHENGZHOU, org=CONGRESS_ORG)
    bureau = Actor(sub="f1", body="finance", region=ZHENGZHOU)
    with engine.begin() as conn:
        iid = lifecycle.raise_inquiry(
            conn, "payment", "P1", actor=asker, subject="s", question="q", via="rest"
        ).inquiry_id
    fresh = lifecycle._current
    calls: list[int] = []

    def read_then_lose_the_race(conn: Any, inquiry_id: int) -> Any:
        read = fresh(conn, inquiry_id)
        calls.append(inquiry_id)
        if len(calls) == 1:
            lifecycle.apply(conn, iid, "answer", actor=bureau, text="先到", via="rest")
        return read

    monkeypatch.setattr(lifecycle, "_current", read_then_lose_the_race)
    with (
        pytest.raises(lifecycle.ConcurrentStep, match="changed while this step was taken"),
        engine.begin() as conn,
    ):
        lifecycle.apply(conn, iid, "answer", actor=bureau, text="后到", via="rest")
    monkeypatch.undo()
    assert counts(engine) == (1, 1, 1)
    with finance(engine) as c:
        monkeypatch.setattr(lifecycle, "_current", read_then_lose_the_race)
        calls.clear()
        r = c.post(f"/v1/inquiries/{iid}/answer", json={"answer": "后到"})
        assert r.status_code == 409 and "changed while" in r.json()["detail"]
    assert counts(engine) == (1, 1, 1)


# --- who sees what ------------------------------------------------------------------------------------------


def test_visibility_and_the_listing(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with congress(engine) as cong, client(engine, "audit", ZHENGZHOU, org="郑州市审计局") as aud:
        monkeypatch.setattr(lifecycle, "utcnow", lambda: datetime(2025, 9, 30, 15, 59))  # 23:59 in China
        c1 = raised(cong)["id"]
        monkeypatch.setattr(lifecycle, "utcnow", lambda: datetime(2025, 9, 30, 16, 0))  # 1 October there
        c2 = raised(cong, "project", f"{JINSHUI}:PR2")["id"]
        a1 = raised(aud, "indicator", "B1")["id"]

        def listed(c: TestClient, **params: Any) -> list[int]:
            out: list[int] = []
            cursor = None
            while True:
                r = c.get(
                    "/v1/inquiries", params={**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
                )
                assert r.status_code == 200, r.text
                out += [row["id"] for row in r.json()["rows"]]
                cursor = r.json()["next_cursor"]
                if cursor is None:
                    return out

        assert listed(cong) == [c2, c1] and listed(aud) == [a1]  # newest first, its own body's only
        assert aud.get(f"/v1/inquiries/{c1}").status_code == 404
        assert cong.get(f"/v1/inquiries/{a1}").json()["detail"] == f"no inquiry {a1}"
        assert data(aud, "query($id: Int!) { inquiry(id: $id) { id } }", id=c1)["inquiry"] is None
        assert listed(cong, region=JINSHUI) == [c2] and listed(cong, object_type="payment") == [c1]
        assert listed(cong, object_id="P1") == [c1] and listed(cong, status="open") == [c2, c1]
        assert listed(cong, raised_from="2025-10-01") == [c2] and listed(cong, raised_to="2025-09-30") == [c1]
    with finance(engine) as city, finance(engine, JINSHUI) as district, finance(engine, ZHONGYUAN) as county:
        assert listed(city) == [a1, c2, c1] and listed(district) == [c2] and listed(county) == []
        g = data(
            city,
            "{ inquiries(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }",
        )
        assert g["inquiries"]["totalCount"] == 3 and g["inquiries"]["pageInfo"]["hasNextPage"] is True
        rest = data(
            city,
            "query($a: String) { inquiries(first: 2, after: $a) { edges { node { id } } } }",
            a=g["inquiries"]["pageInfo"]["endCursor"],
        )
        assert [e["node"]["id"] for e in g["inquiries"]["edges"] + rest["inquiries"]["edges"]] == [a1, c2, c1]
        assert county.get("/v1/inquiries", params={"region": ZHENGZHOU}).status_code == 404
    with congress(
        engine, JINSHUI
    ) as below:  # congress of 金水区: sees inquiries to 金水区 raised by congress
        assert listed(below) == [c2]
    with client(engine, "discipline", PROVINCE) as everywhere:  # no inquiry of its body
        assert listed(everywhere) == []


def test_reads_are_never_served_from_the_cache(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OVERSIGHT_RESPONSE_CACHE_ENTRIES")
    with congress(engine) as asker, finance(engine) as bureau:
        iid = raised(asker)["id"]
        assert asker.get(f"/v1/inquiries/{iid}").json()["status"] == "open"
        assert bureau.post(f"/v1/inquiries/{iid}/answer", json={"answer": "答复"}).status_code == 200
        assert asker.get(f"/v1/inquiries/{iid}").json()["status"] == "answered"
