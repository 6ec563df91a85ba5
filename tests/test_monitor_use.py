"""资金使用 rules: each with a finding and a near miss, on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from schema.monitor import MonitorRun, Warning, WarningObject
from tests.factories import ZHENGZHOU, indicator, payment
from tests.monitor_kit import load, run, warned, warnings


def test_large_cash_single_payment_and_monthly_total(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "50000.01", set_mode_code="2"),  # above the single limit
            payment("P2", "50000.00", set_mode_code="2", vou_date="2025-04-01"),  # at it: a near miss
            payment("P3", "40000.00", set_mode_code="2", vou_date="2025-05-06"),  # May: 100,000.01 together
            payment("P4", "40000.00", set_mode_code="2", vou_date="2025-05-07"),
            payment("P5", "20000.01", set_mode_code="2", vou_date="2025-05-08"),
            payment("P6", "40000.00", set_mode_code="2", vou_date="2025-06-06"),  # June: exactly 100,000
            payment("P7", "60000.00", set_mode_code="1", vou_date="2025-06-07"),  # transfer: not cash
            payment("P8", "40000.00", set_mode_code="2", vou_date="2025-06-08"),
            payment("P9", "20000.00", set_mode_code="2", vou_date="2025-06-09"),
        ],
    )
    assert warned(engine, "USE-01") == {"P1", "001001", "P3", "P4", "P5"}
    monthly = [w for w in warnings(engine, "USE-01") if w["object_type"] == "agency"]
    assert [(w["facet"], w["amount_fen"]) for w in monthly] == [("2025-05", 10_000_001)]
    assert warned(engine, "USE-01", params={"single_limit_yuan": 60_000}) == {"001001", "P3", "P4", "P5"}


def related(engine: Engine, code: str) -> dict[str, set[str]]:
    """Each open warning's primary object → the other objects it names."""
    out: dict[str, set[str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(Warning.object_id, WarningObject.object_id, WarningObject.is_primary)
            .join(WarningObject, WarningObject.warning_id == Warning.id)
            .where(Warning.rule_code == code, Warning.cleared_at.is_(None))
        )
        for primary, oid, is_primary in rows:
            others = out.setdefault(primary, set())
            if not is_primary:
                others.add(oid)
    return out


def adjustment(adj_id: str, bgt_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {"adj_id": adj_id, "bgt_id": bgt_id, "adj_date": "2025-02-10", "add_amount": amount, **extra}


def plan(plan_id: str, bgt_id: str, month: int, amount: str) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "bgt_id": bgt_id,
        "fiscal_year": "2025",
        "plan_month": str(month),
        "plan_amt": amount,
        "mof_div_code": ZHENGZHOU,
        "agency_code": "001001",
    }


def test_same_name_transfer(engine: Engine, tmp_path: Path) -> None:
    name = "郑州市第一初级中学"
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1000.00", pay_acct_name=name, payee_acct_name=name),
            payment("P2", "1000.00", pay_acct_name=name, payee_acct_name=name + "工会委员会"),  # near miss
            payment("P3", "1000.00"),  # no payer name
            payment("P4", "1000.00", pay_acct_name=name, payee_acct_name=name, is_deleted="1"),
        ],
    )
    assert warned(engine, "USE-02") == {"P1"}


def test_unit_to_unit_and_payee_type_override(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1000.00", payee_type="1"),  # another budget unit
            payment("P2", "1000.00", payee_type="2"),  # a subordinate unit
            payment("P3", "1000.00", payee_type="3"),  # an enterprise: a near miss
            payment("P4", "1000.00", payee_type="5"),  # the unit's own account
        ],
    )
    assert warned(engine, "USE-03") == {"P1", "P2"}
    assert warned(engine, "USE-03", params={"payee_types": ["2"]}) == {"P2"}


def test_over_budget_counts_adjustments_and_live_payments(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "1000.00"), indicator("B2", "500.00"), indicator("B3", "100.00")],
        bgt_adj=[adjustment("A1", "B1", "200.00"), adjustment("A2", "B2", "-0.01")],
        pay_voucher=[
            payment("P1", "700.00"),  # B1: 1,200.00 paid of 1,000 + 200: exactly at it
            payment("P2", "500.00"),
            payment("P3", "300.00", bgt_id="B2"),  # B2: 500.00 paid of 500 - 0.01
            payment("P4", "200.00", bgt_id="B2"),
            payment("P5", "100.00", bgt_id="B3"),  # B3: at its amount, the deleted payment not counted
            payment("P6", "50.00", bgt_id="B3", is_deleted="1"),
            payment("P7", "99999.00", bgt_id="NOPE"),  # no such indicator: not this rule's
        ],
    )
    assert warned(engine, "USE-04") == {"B2"}
    [w] = warnings(engine, "USE-04")
    assert w["amount_fen"] == 1
    assert w["evidence"]["paid"] == "500.00" and w["evidence"]["current"] == "499.99"


def test_over_plan_per_month_against_the_plan_lines(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "90000.00"), indicator("B2", "90000.00")],
        pay_plan=[
            plan("PL1", "B1", 3, "600.00"),
            plan("PL2", "B1", 3, "400.00"),
            plan("PL3", "B2", 3, "500.00"),
        ],
        pay_voucher=[
            payment("P1", "600.00", vou_date="2025-03-04"),  # B1 in March: 1,000.00, exactly its plan
            payment("P2", "400.00", vou_date="2025-03-31"),
            payment("P3", "0.01", vou_date="2025-04-01"),  # B1 in April: no plan at all
            payment("P4", "500.01", bgt_id="B2", vou_date="2025-03-10"),  # B2 in March: above its plan
        ],
    )
    assert warned(engine, "USE-05") == {"B1", "B2", "PL3"}
    found = {(w["object_id"], w["facet"]): w["amount_fen"] for w in warnings(engine, "USE-05")}
    assert found == {("B1", "2025-04"): 1, ("B2", "2025-03"): 1}
    assert related(engine, "USE-05") == {"B1": set(), "B2": {"PL3"}}


def test_no_indicator(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1000.00", bgt_id=""),
            payment("P2", "1000.00"),  # names B1: a near miss
            payment("P3", "1000.00", bgt_id="", is_deleted="1"),
        ],
    )
    assert warned(engine, "USE-06") == {"P1"}


def test_official_card_not_used_and_code_list_override(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "800.00", dep_bgt_eco_code="30211", set_mode_code="1"),  # travel by transfer
            payment("P2", "800.00", dep_bgt_eco_code="30211", set_mode_code="3"),  # by card: a near miss
            payment("P3", "800.00", dep_bgt_eco_code="30217", set_mode_code="2"),  # reception in cash
            payment("P4", "800.00", dep_bgt_eco_code="30231", set_mode_code=""),  # no settlement mode
            payment("P5", "800.00", dep_bgt_eco_code="30215", set_mode_code="1"),  # meetings: not listed
        ],
    )
    assert warned(engine, "USE-07") == {"P1", "P3", "P4"}
    assert warned(engine, "USE-07", params={"eco_codes": ["30217"]}) == {"P3"}


def test_sangong_limits_and_fourth_quarter_prepayments(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "10000.01", dep_bgt_eco_code="30217", use_des="公务接待餐费"),  # above 10,000
            payment("P2", "10000.00", dep_bgt_eco_code="30217", use_des="公务接待餐费"),  # at it
            payment(
                "P3",
                "5000.00",
                dep_bgt_eco_code="30215",
                use_des="预付2026年度会议场地费",
                vou_date="2025-10-09",
            ),
            payment(
                "P4",
                "5000.00",
                dep_bgt_eco_code="30215",
                use_des="预付2026年度会议场地费",
                vou_date="2025-09-30",
            ),
            payment("P5", "5000.00", dep_bgt_eco_code="30215", use_des="会议场地费", vou_date="2025-10-09"),
            payment("P6", "5000.00", dep_bgt_eco_code="30211", use_des="预付差旅费", vou_date="2025-10-09"),
        ],
    )
    assert warned(engine, "USE-08") == {"P1", "P3"}
    messages = {w["object_id"]: w["message"] for w in warnings(engine, "USE-08")}
    assert messages["P1"] == (
        "公务接待费 (30217) above the limit of 10000.00 yuan in one payment: 10000.01 yuan for '公务接待餐费'"
    )
    assert "'预付'" in messages["P3"] and "fourth quarter" in messages["P3"]
    by_region = {ZHENGZHOU: {"limit_30217_yuan": 20_000}}
    assert warned(engine, "USE-08", by_region=by_region) == {"P3"}


def test_suspicious_purpose_matches_keywords_literally(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1000.00", use_des="购买购物卡"),
            payment("P2", "1000.00", use_des="KTV包间费"),
            payment("P3", "1000.00", use_des="ktv包间费"),  # another case: not the keyword
            payment("P4", "1000.00", use_des="购买办公用品"),  # no keyword: a near miss
            payment("P5", "1000.00", use_des="折扣5%"),
            payment("P6", "1000.00", use_des="5折优惠50元"),  # '5%' as a LIKE pattern would match
            payment("P7", "1000.00", use_des="a_b"),
            payment("P8", "1000.00", use_des="axb"),  # 'a_b' as a LIKE pattern would match
        ],
    )
    assert warned(engine, "USE-09") == {"P1", "P2"}
    [w] = [w for w in warnings(engine, "USE-09") if w["object_id"] == "P1"]
    assert w["evidence"]["keyword"] == "购物卡"
    assert warned(engine, "USE-09", params={"keywords": ["5%", "a_b"]}) == {"P5", "P7"}


def test_split_payment_each_below_and_together_above(engine: Engine, tmp_path: Path) -> None:
    other = "6222000099998888"
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "9000000.00")],
        pay_voucher=[
            payment("P1", "150000.00", vou_date="2025-03-04"),  # 200,000.01 on one day
            payment("P2", "50000.01", vou_date="2025-03-04"),
            payment("P3", "100000.00", vou_date="2025-03-05"),  # exactly 200,000 together
            payment("P4", "100000.00", vou_date="2025-03-05"),
            payment("P5", "199999.99", vou_date="2025-03-06"),  # one of them not below
            payment("P6", "200000.00", vou_date="2025-03-06"),
            payment("P7", "150000.00", vou_date="2025-03-07"),  # two payees
            payment("P8", "60000.00", vou_date="2025-03-07", payee_acct_no=other),
            payment("P9", "150000.00", vou_date="2025-03-10"),  # two days
            payment("P10", "60000.00", vou_date="2025-03-11"),
        ],
    )
    assert warned(engine, "USE-10") == {"P1", "P2"}
    assert related(engine, "USE-10") == {"P1": {"P2"}}
    [w] = warnings(engine, "USE-10")
    assert w["amount_fen"] == 20_000_001 and w["evidence"]["payments"] == 2


def test_duplicate_payment_within_the_window(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "8000.00", vou_date="2025-03-04"),
            payment("P2", "8000.00", vou_date="2025-04-03"),  # 30 days later: a duplicate
            payment("P3", "8000.00", vou_date="2025-05-04"),  # 31 days after P2: a near miss
            payment("P4", "8000.01", vou_date="2025-03-05"),  # another amount
            payment("P5", "8000.00", vou_date="2025-03-05", use_des="购置打印机"),  # another purpose
            payment("P6", "8000.00", vou_date="2025-03-05", payee_acct_no="6222000099998888"),
        ],
    )
    assert warned(engine, "USE-11") == {"P1", "P2"}
    assert related(engine, "USE-11") == {"P1": {"P2"}}
    [w] = warnings(engine, "USE-11")
    assert w["message"] == (
        "8000.00 yuan to 河南中原建设工程有限公司 for '购置办公设备' on 2025-03-04 and again on 2025-04-03 "
        "(P2), 30 days apart"
    )
    assert warned(engine, "USE-11", params={"window_days": 31}) == {"P1", "P2", "P3"}
    assert related(engine, "USE-11") == {"P1": {"P2"}, "P2": {"P3"}}


def test_non_working_day_by_the_chinese_calendar(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "1000.00", vou_date="2025-06-14"),  # Saturday
            payment("P2", "1000.00", vou_date="2025-10-01"),  # National Day, a Wednesday
            payment("P3", "1000.00", vou_date="2025-01-26"),  # Sunday, a swapped working day
            payment("P4", "1000.00", vou_date="2025-02-08"),  # Saturday, a swapped working day
            payment("P5", "1000.00", vou_date="2025-06-13"),  # Friday
        ],
    )
    assert warned(engine, "USE-12") == {"P1", "P2"}
    kinds = {w["object_id"]: w["evidence"]["day_kind"] for w in warnings(engine, "USE-12")}
    assert kinds == {"P1": "weekend", "P2": "public holiday"}


def test_incremental_run_finds_a_new_duplicate_without_repeating_warnings(
    engine: Engine, tmp_path: Path
) -> None:
    first = [payment("P1", "8000.00", vou_date="2025-03-04"), payment("P2", "8000.00", vou_date="2025-03-10")]
    load(engine, tmp_path, ba_bgt_info=[indicator("B1", "900000.00")], pay_voucher=first)
    assert warned(engine, "USE-11") == {"P1", "P2"}
    # the load runs the rules incrementally over what it wrote: P3 repeats P2 ten days later
    load(engine, tmp_path, pay_voucher=[payment("P3", "8000.00", vou_date="2025-03-20")])
    with engine.connect() as conn:
        newest = conn.execute(
            select(MonitorRun.mode, MonitorRun.per_rule).order_by(MonitorRun.id.desc())
        ).first()
    assert newest is not None and newest[0] == "incremental"
    assert newest[1]["USE-11"] == {**newest[1]["USE-11"], "mode": "incremental", "findings": 2, "raised": 1}
    assert related(engine, "USE-11") == {"P1": {"P2"}, "P2": {"P3"}}
    assert len(warnings(engine, "USE-11")) == 2
    assert run(engine, "USE-11", incremental=True).outcomes[0].mode == "skipped"  # nothing new since
    full = run(engine, "USE-11").outcomes[0]  # a full run finds the same, nothing more, nothing less
    assert (full.findings, full.raised, full.cleared) == (2, 0, 0)
    assert related(engine, "USE-11") == {"P1": {"P2"}, "P2": {"P3"}}
