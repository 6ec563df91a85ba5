"""The warning lifecycle (待核实 → 已核实 (违规 | 无误) → 整改中 → 已整改): every path, every refused step,
the steps it keeps, and two steps racing on one warning; on both engines."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from monitor import lifecycle
from monitor.lifecycle import Actor
from schema.monitor import Warning, WarningObject, WarningStep

ZHENGZHOU, ZHONGYUAN, JINSHUI = "410100000", "410102000", "410105000"
FINANCE = Actor(sub="zz-fin-1", body="finance", region=ZHENGZHOU, org="郑州市财政局")
_objects = itertools.count(1)


def add_warning(engine: Engine, **fields: Any) -> int:
    """A warning row as a run would write it (defaults: USE-01 about a payment in 郑州市, pending)."""
    n = next(_objects)
    detected = fields.pop("detected_at", datetime(2025, 9, 1, 2, 0))
    row: dict[str, Any] = {
        "rule_code": "USE-01",
        "rule_group": "资金使用",
        "level": "orange",
        "object_type": "payment",
        "object_id": f"P{n}",
        "facet": "",
        "fiscal_year": 2025,
        "mof_div_code": ZHENGZHOU,
        "agency_code": "001001",
        "payee_key": None,
        "amount_fen": 6_000_000,
        "occurred_on": date(2025, 3, 4),
        "evidence": {"amount": "60000.00", "set_mode": "2"},
        "message": "大额提取现金",
        "status": "pending",
        "detected_at": detected,
        "updated_at": detected,
        "run_id": 1,
        **fields,
    }
    row.setdefault("dedup_key", f"{row['rule_code']}|{row['object_type']}|{row['object_id']}|{n}")
    related = row.pop("related", ())
    with engine.begin() as conn:
        wid = int(conn.execute(insert(Warning).values(**row).returning(Warning.id)).scalar_one())
        conn.execute(
            insert(WarningObject),
            [
                {
                    "warning_id": wid,
                    "object_type": row["object_type"],
                    "object_id": row["object_id"],
                    "is_primary": True,
                }
            ]
            + [
                {"warning_id": wid, "object_type": t, "object_id": i, "is_primary": False} for t, i in related
            ],
        )
    return wid


def add_step(
    engine: Engine, warning_id: int, at: datetime, action: str = "verify", to: str = "verified"
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(WarningStep).values(
                warning_id=warning_id,
                action=action,
                from_status="pending",
                to_status=to,
                actor_sub="x",
                actor_body="finance",
                at=at,
                comment="c",
            )
        )


def state(engine: Engine, wid: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(*Warning.__table__.columns).where(Warning.id == wid)).one()._mapping)


def steps(engine: Engine, wid: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*WarningStep.__table__.columns)
            .where(WarningStep.warning_id == wid)
            .order_by(WarningStep.id)
        )
        return [dict(r._mapping) for r in rows]


def test_violation_path_to_rectified(engine: Engine) -> None:
    wid = add_warning(engine)
    assert lifecycle.allowed_actions("pending", None) == [lifecycle.Action.verify]
    first = lifecycle.transition(
        engine, wid, "verify", actor=FINANCE, comment="核实: 确属违规", verdict="violation"
    )
    assert (first.from_status, first.to_status, first.verdict) == ("pending", "verified", "violation")
    w = state(engine, wid)
    assert (w["status"], w["verdict"], w["closed_at"]) == ("verified", "violation", None)
    lifecycle.transition(engine, wid, "start_rectification", actor=FINANCE, comment="已下发整改通知")
    assert state(engine, wid)["status"] == "rectifying"
    done = lifecycle.transition(engine, wid, "complete_rectification", actor=FINANCE, comment="资金已退回")
    w = state(engine, wid)
    assert (w["status"], w["verdict"]) == ("rectified", "violation")
    assert w["closed_at"] == done.at and w["updated_at"] == done.at
    kept = steps(engine, wid)
    assert [(s["action"], s["from_status"], s["to_status"], s["verdict"]) for s in kept] == [
        ("verify", "pending", "verified", "violation"),
        ("start_rectification", "verified", "rectifying", "violation"),
        ("complete_rectification", "rectifying", "rectified", "violation"),
    ]
    assert {(s["actor_sub"], s["actor_body"], s["actor_org"]) for s in kept} == {
        ("zz-fin-1", "finance", "郑州市财政局")
    }
    assert [s["comment"] for s in kept] == ["核实: 确属违规", "已下发整改通知", "资金已退回"]
    assert all(s["at"] is not None for s in kept)
    with pytest.raises(lifecycle.IllegalStep, match=r"rectified .*allowed: none"):
        lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment="again", verdict="no_issue")


def test_no_issue_closes_at_once(engine: Engine) -> None:
    wid = add_warning(engine)
    step = lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment="用途合规", verdict="no_issue")
    w = state(engine, wid)
    assert (w["status"], w["verdict"], w["closed_at"]) == ("verified", "no_issue", step.at)
    for action in ("start_rectification", "complete_rectification", "verify"):
        with pytest.raises(
            lifecycle.IllegalStep, match=r"verified \(已核实\) with verdict no_issue; allowed: none"
        ):
            lifecycle.transition(engine, wid, action, actor=FINANCE, comment="x", verdict="violation")
    assert len(steps(engine, wid)) == 1


@pytest.mark.parametrize(
    ("action", "verdict", "comment", "error", "message"),
    [
        ("verify", None, "ok", lifecycle.InvalidStep, "verdict: required"),
        ("verify", "maybe", "ok", lifecycle.InvalidStep, "verdict: violation or no_issue"),
        ("verify", "violation", None, lifecycle.InvalidStep, "comment: required"),
        ("verify", "violation", "   ", lifecycle.InvalidStep, "comment: required"),
        ("verify", "violation", "长" * 2001, lifecycle.InvalidStep, "at most 2000"),
        ("approve", None, "ok", lifecycle.InvalidStep, "action: one of verify"),
        ("start_rectification", None, "ok", lifecycle.IllegalStep, "pending .*allowed: verify"),
        ("complete_rectification", None, "ok", lifecycle.IllegalStep, "pending .*allowed: verify"),
    ],
)
def test_refused_steps_change_nothing(
    engine: Engine,
    action: str,
    verdict: str | None,
    comment: str | None,
    error: type[Exception],
    message: str,
) -> None:
    wid = add_warning(engine)
    before = state(engine, wid)
    with pytest.raises(error, match=message):
        lifecycle.transition(engine, wid, action, actor=FINANCE, comment=comment, verdict=verdict)
    assert state(engine, wid) == before and steps(engine, wid) == []


def test_a_comment_of_2000_characters_is_accepted(engine: Engine) -> None:
    wid = add_warning(engine)
    lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment="长" * 2000, verdict="violation")
    assert len(steps(engine, wid)[0]["comment"]) == 2000


def test_only_finance_of_the_warnings_own_region(engine: Engine) -> None:
    wid = add_warning(engine, mof_div_code=ZHONGYUAN)
    refused = [
        (Actor("a", "audit", ZHONGYUAN), "only the finance body"),
        (Actor("c", "congress", ZHONGYUAN), "only the finance body"),
        (FINANCE, "answered by that region's finance bureau only"),  # the city above it
        (Actor("j", "finance", JINSHUI), "answered by that region's finance bureau only"),  # a sibling
    ]
    for actor, message in refused:
        with pytest.raises(lifecycle.NotPermitted, match=message):
            lifecycle.transition(engine, wid, "verify", actor=actor, comment="x", verdict="violation")
    assert steps(engine, wid) == [] and state(engine, wid)["status"] == "pending"
    county = Actor("zy-fin", "finance", ZHONGYUAN)
    lifecycle.transition(engine, wid, "verify", actor=county, comment="核实", verdict="violation")
    assert state(engine, wid)["status"] == "verified"


def test_a_missing_warning(engine: Engine) -> None:
    with pytest.raises(lifecycle.WarningMissing):
        lifecycle.transition(engine, 999_999, "verify", actor=FINANCE, comment="x", verdict="violation")


def test_of_two_concurrent_steps_only_one_succeeds(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second step read the warning before the first one wrote it: its UPDATE, which names the status
    it read, changes nothing and it is refused, leaving the first step alone."""
    wid = add_warning(engine)
    fresh = lifecycle._current
    calls: list[int] = []

    def read_then_lose_the_race(conn: Any, warning_id: int) -> Any:
        read = fresh(conn, warning_id)
        calls.append(warning_id)
        if len(calls) == 1:  # another finance user verifies it between this read and the write
            lifecycle.apply(conn, wid, "verify", actor=FINANCE, comment="先到", verdict="no_issue")
        return read

    monkeypatch.setattr(lifecycle, "_current", read_then_lose_the_race)
    with (
        pytest.raises(lifecycle.ConcurrentStep, match="changed while this step was taken"),
        engine.begin() as conn,
    ):
        lifecycle.apply(conn, wid, "verify", actor=FINANCE, comment="后到", verdict="violation")
    monkeypatch.undo()
    # the whole transaction rolled back with the refusal; once committed alone, the first step stands
    assert state(engine, wid)["status"] == "pending"
    lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment="先到", verdict="no_issue")
    with pytest.raises(lifecycle.IllegalStep):
        lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment="后到", verdict="violation")
    w = state(engine, wid)
    assert (w["status"], w["verdict"]) == ("verified", "no_issue")
    assert [s["comment"] for s in steps(engine, wid)] == ["先到"]


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_two_racing_transactions_on_postgresql(engine: Engine) -> None:
    """Two transactions read the warning pending; the second one's UPDATE waits for the first to commit,
    then finds no row with the status it expects and is refused."""
    import threading

    wid = add_warning(engine)
    both_read = threading.Barrier(2, timeout=10)
    outcome: dict[str, str] = {}
    original = lifecycle._current

    def reading(conn: Any, warning_id: int) -> Any:
        read = original(conn, warning_id)
        both_read.wait()
        return read

    def step(name: str, verdict: str) -> None:
        try:
            lifecycle.transition(engine, wid, "verify", actor=FINANCE, comment=name, verdict=verdict)
            outcome[name] = "done"
        except lifecycle.ConcurrentStep:
            outcome[name] = "refused"

    lifecycle._current = reading  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=step, args=a) for a in (("a", "violation"), ("b", "no_issue"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    finally:
        lifecycle._current = original  # type: ignore[assignment]
    assert sorted(outcome.values()) == ["done", "refused"]
    winner = next(k for k, v in outcome.items() if v == "done")
    assert [s["comment"] for s in steps(engine, wid)] == [winner]
