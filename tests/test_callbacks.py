"""Signed callbacks (``POST /v1/channels/{name}/callback``) on both engines: an answer to an inquiry and a
warning's step come back through a webhook channel; tampered, stale, unsigned or wrongly signed callbacks
are refused and change nothing; a replay changes nothing and gets the first answer again; an object
outside the channel's region answers like a missing one."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.inquiries import lifecycle
from connectors.channels.signing import new_secret, sign_headers
from connectors.delivery.config import FeedbackConfig, parse_config
from schema.db import write_transaction
from schema.feedback import CallbackReceipt, Inquiry, InquiryStep
from schema.monitor import Warning, WarningStep
from tests.auth import api_client
from tests.factories import agency, indicator, payment
from tests.monitor_kit import load
from tests.test_monitor_lifecycle import add_warning

NEW, OLD = new_secret(), new_secret()
ZHENGZHOU, LUOYANG = "410100000", "410300000"


def feedback(hook_region: str = ZHENGZHOU) -> FeedbackConfig:
    return parse_config(
        {
            "channels": {
                "zz-czj": {
                    "type": "webhook",
                    "url": "http://127.0.0.1:9/never-called",
                    "secrets": [NEW, OLD],
                    "callback_region": hook_region,
                },
                "plain": {"type": "webhook", "url": "http://127.0.0.1:9/x", "secrets": [NEW]},
            }
        }
    )


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two payments (郑州市 and 洛阳市), an inquiry about each, a warning in 郑州市, and an API client."""
    monkeypatch.setattr("api.channels.routes.current_config", feedback)
    load(
        engine,
        tmp_path,
        agency=[agency("L01", "洛阳市教育局", region=LUOYANG)],
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1200.00"),
            payment("P2", "800.00", mof_div_code=LUOYANG, agency_code="L01", bgt_id=None),
        ],
    )
    asker = lifecycle.Actor(sub="c1", body="congress", region="410000000", org="省人大预算工委")
    ids = {}
    for pay in ("P1", "P2"):
        with write_transaction(engine) as conn:
            step = lifecycle.raise_inquiry(
                conn, "payment", pay, actor=asker, subject=f"关于{pay}", question="用途是什么?", via="rest"
            )
            ids[pay] = step.inquiry_id
    return {"client": api_client(engine, body=None), "inquiry": ids, "warning": add_warning(engine)}


def answer_body(inquiry_id: int, **extra: Any) -> bytes:
    doc = {
        "type": "inquiry.answer",
        "inquiry_id": inquiry_id,
        "answer": "该笔支付为学校食堂采购,合同已附。",
        "attachments": [
            {
                "name": "合同.pdf",
                "media_type": "application/pdf",
                "size": 48213,
                "sha256": hashlib.sha256(b"contract").hexdigest(),
            }
        ],
        "actor": {"sub": "zhang.wei", "org": "郑州市财政局国库处"},
        **extra,
    }
    return orjson.dumps(doc)


def post(
    client: TestClient,
    body: bytes,
    *,
    secrets: list[str] | None = None,
    msg_id: str = "msg_1",
    at: datetime | None = None,
    channel: str = "zz-czj",
    headers: dict[str, str] | None = None,
) -> Any:
    signed = sign_headers(secrets or [NEW], msg_id, body, at) if headers is None else headers
    return client.post(
        f"/v1/channels/{channel}/callback",
        content=body,
        headers={**signed, "content-type": "application/json"},
    )


def inquiry_state(engine: Engine, iid: int) -> tuple[str, int, int]:
    with engine.connect() as conn:
        status = conn.execute(select(Inquiry.status).where(Inquiry.id == iid)).scalar_one()
        steps = conn.execute(select(func.count()).where(InquiryStep.inquiry_id == iid)).scalar_one()
        receipts = conn.execute(select(func.count()).select_from(CallbackReceipt)).scalar_one()
    return status, steps, receipts


def test_a_signed_answer_is_applied_once(engine: Engine, world: dict[str, Any]) -> None:
    iid = world["inquiry"]["P1"]
    body = answer_body(iid)
    r = post(world["client"], body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered" and r.json()["inquiry_id"] == iid
    assert "idempotent-replayed" not in r.headers
    with engine.connect() as conn:
        step = conn.execute(
            select(InquiryStep.__table__).where(InquiryStep.inquiry_id == iid, InquiryStep.action == "answer")
        ).one()
    assert step.via == "channel:zz-czj" and step.actor_body == "finance"
    assert step.actor_sub == "zz-czj:zhang.wei" and step.actor_org == "郑州市财政局国库处"
    assert step.attachments[0]["name"] == "合同.pdf"
    before = inquiry_state(engine, iid)
    again = post(world["client"], body)  # the same message, delivered again
    assert again.status_code == 200 and again.json() == r.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert inquiry_state(engine, iid) == before == ("answered", 2, 1)


def test_either_secret_of_a_rotation_is_accepted(engine: Engine, world: dict[str, Any]) -> None:
    r = post(world["client"], answer_body(world["inquiry"]["P1"]), secrets=[OLD])
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "forgery",
    ["tampered body", "tampered id", "stale", "future", "unsigned", "wrong secret", "garbled signature"],
)
def test_forged_callbacks_are_refused_and_change_nothing(
    engine: Engine, world: dict[str, Any], forgery: str
) -> None:
    iid = world["inquiry"]["P1"]
    body = answer_body(iid)
    headers = sign_headers([NEW], "msg_1", body)
    now = datetime.now(UTC)
    if forgery == "tampered body":
        body = answer_body(iid, answer="改过的答复")
    elif forgery == "tampered id":
        headers["webhook-id"] = "msg_2"
    elif forgery == "stale":
        headers = sign_headers([NEW], "msg_1", body, now - timedelta(minutes=6))
    elif forgery == "future":
        headers = sign_headers([NEW], "msg_1", body, now + timedelta(minutes=6))
    elif forgery == "unsigned":
        headers = {}
    elif forgery == "wrong secret":
        headers = sign_headers([new_secret()], "msg_1", body)
    else:
        headers["webhook-signature"] = "v1,not-base64!!"
    r = post(world["client"], body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"].startswith("signature: ")
    assert inquiry_state(engine, iid) == ("open", 1, 0)
    # the genuine message still goes through afterwards: a refusal did not burn its id
    assert post(world["client"], answer_body(iid)).status_code == 200


def test_an_inquiry_outside_the_channels_region_is_missing(engine: Engine, world: dict[str, Any]) -> None:
    luoyang = world["inquiry"]["P2"]
    r = post(world["client"], answer_body(luoyang))
    assert r.status_code == 404 and r.json()["detail"] == f"no inquiry {luoyang}"
    missing = post(world["client"], answer_body(999_999), msg_id="msg_2")
    assert missing.status_code == 404 and missing.json()["detail"] == "no inquiry 999999"
    assert inquiry_state(engine, luoyang)[:2] == ("open", 1)


def test_a_channel_that_takes_no_callbacks(world: dict[str, Any]) -> None:
    for channel in ("plain", "nonexistent"):
        r = post(world["client"], answer_body(world["inquiry"]["P1"]), channel=channel)
        assert r.status_code == 404 and "takes callbacks" in r.json()["detail"]
    bad = post(world["client"], b"{}", channel="UPPER")
    assert bad.status_code == 422


def test_an_invalid_body_names_the_field_and_its_replay_gets_the_same(
    engine: Engine, world: dict[str, Any]
) -> None:
    iid = world["inquiry"]["P1"]
    body = answer_body(iid, attachments=[{"name": "x", "media_type": "a/b", "size": 1, "sha256": "xyz"}])
    r = post(world["client"], body)
    assert r.status_code == 422 and "sha256" in r.json()["detail"], r.text
    again = post(world["client"], body)
    assert again.status_code == 422 and again.headers["idempotent-replayed"] == "true"
    assert inquiry_state(engine, iid)[:2] == ("open", 1)
    for junk in (b"not json", b"[1, 2]", orjson.dumps({"type": "inquiry.delete", "inquiry_id": iid})):
        r = post(world["client"], junk, msg_id=f"junk-{len(junk)}")
        assert r.status_code == 422, r.text


def test_a_step_the_inquiry_does_not_allow_is_a_conflict(engine: Engine, world: dict[str, Any]) -> None:
    iid = world["inquiry"]["P1"]
    assert post(world["client"], answer_body(iid), msg_id="a").status_code == 200
    r = post(world["client"], answer_body(iid), msg_id="b")  # a second answer to an answered inquiry
    assert r.status_code == 409, r.text
    assert inquiry_state(engine, iid)[:2] == ("answered", 2)


def test_a_warning_step_through_the_channel(engine: Engine, world: dict[str, Any]) -> None:
    wid = world["warning"]
    body = orjson.dumps(
        {
            "type": "warning.transition",
            "warning_id": wid,
            "action": "verify",
            "verdict": "no_issue",
            "comment": "经核实为正常报销",
            "actor": {"sub": "li.na"},
        }
    )
    r = post(world["client"], body, msg_id="w1")
    assert r.status_code == 200 and r.json()["status"] == "verified", r.text
    assert post(world["client"], body, msg_id="w1").json() == r.json()  # replayed
    with engine.connect() as conn:
        status = conn.execute(select(Warning.status, Warning.verdict).where(Warning.id == wid)).one()
        steps = conn.execute(select(WarningStep.actor_sub).where(WarningStep.warning_id == wid)).all()
    assert tuple(status) == ("verified", "no_issue") and steps == [("zz-czj:li.na",)]


def test_a_channel_for_the_province_cannot_answer_for_a_city(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.channels.routes.current_config", lambda: feedback("410000000"))
    r = post(world["client"], answer_body(world["inquiry"]["P1"]))
    assert r.status_code == 403, r.text  # in its subtree, but only the city's own finance bureau answers
    assert inquiry_state(engine, world["inquiry"]["P1"])[:2] == ("open", 1)


def test_two_deliveries_of_one_callback_at_once_apply_it_once(engine: Engine, world: dict[str, Any]) -> None:
    """The service itself, from two threads at once (each its own connection): one applies the answer,
    the other finds the step taken or the receipt written, and both answer the first's document."""
    import threading

    from api.channels.service import handle

    iid = world["inquiry"]["P1"]
    body = answer_body(iid)
    headers = {k.lower(): v for k, v in sign_headers([NEW], "msg_race", body).items()}
    answers: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        try:
            answers.append(handle(engine, feedback(), "zz-czj", headers, body))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert [a.status for a in answers] == [200, 200], answers
    assert answers[0].document == answers[1].document
    assert sorted(a.replayed for a in answers) == [False, True]
    assert inquiry_state(engine, iid) == ("answered", 2, 1)


def test_control_characters_in_a_callback_are_a_clear_error(engine: Engine, world: dict[str, Any]) -> None:
    iid = world["inquiry"]["P1"]
    for i, bad in enumerate(
        [
            answer_body(iid, actor={"sub": "zhang\x00wei"}),
            answer_body(iid, actor={"sub": "x" * 181}),
            answer_body(iid, answer="答复\x00"),
        ]
    ):
        r = post(world["client"], bad, msg_id=f"ctl-{i}")
        assert r.status_code == 422, r.text
    assert inquiry_state(engine, iid)[:2] == ("open", 1)
