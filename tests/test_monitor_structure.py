"""指标接收, 资金分配 and 拨付进度 rules: each with a finding and a near miss, on both engines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from schema.monitor import Warning, WarningObject
from tests.factories import ZHENGZHOU, agency, indicator, payment
from tests.monitor_kit import load, warned, warnings

HENAN = "410000000"


def transfer(bgt_id: str, amount: str, doc_date: str = "2025-01-20", **extra: Any) -> dict[str, Any]:
    """An upper transfer (上级转移支付): the province passes an indicator down to 郑州市."""
    return indicator(
        bgt_id, amount, region=HENAN, agency_code=None, rec_div_code=ZHENGZHOU, doc_date=doc_date, **extra
    )


def continuation(bgt_id: str, sup: str, amount: str, **extra: Any) -> dict[str, Any]:
    """郑州市's indicator continuing a transfer, assigned to its unit 001001."""
    return indicator(bgt_id, amount, sup_bgt_id=sup, **extra)


def adjustment(adj_id: str, bgt_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "adj_id": adj_id,
        "bgt_id": bgt_id,
        "adj_date": "2025-06-02",
        "add_amount": amount,
        "update_time": "2025-06-02T09:00:00",
        **extra,
    }


def related(engine: Engine, code: str) -> dict[str, set[str]]:
    """Each open warning's primary object and the other objects it names."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Warning.object_id, WarningObject.object_id)
            .join(WarningObject, WarningObject.warning_id == Warning.id)
            .where(
                Warning.rule_code == code, Warning.cleared_at.is_(None), WarningObject.is_primary.is_(False)
            )
        )
        out: dict[str, set[str]] = {}
        for primary, other in rows:
            out.setdefault(primary, set()).add(other)
        return out


# Spring Festival 2025: 01-26 (a Sunday) and 02-08 (a Saturday) are working days, 01-28 .. 02-04 holidays.
# From Monday 2025-01-20, 2025-02-08 is the 10th working day and 2025-02-10 the 11th.


def test_late_receipt_counts_working_days_across_the_spring_festival(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[
            transfer("T1", "1000.00"),
            continuation("K1", "T1", "600.00", rec_date="2025-02-08"),  # 10 working days: in time
            continuation("K2", "T1", "400.00", rec_date="2025-02-10"),  # 11: late
            transfer("T2", "1000.00"),
            continuation("K3", "T2", "1000.00", rec_date="2025-02-09"),  # a Sunday, still 10
            transfer("T3", "1000.00"),
            continuation("K4", "T3", "1000.00", rec_date="2025-02-10", is_deleted="1"),  # deleted
            transfer("T4", "1000.00"),
            continuation("K5", "T4", "1000.00"),  # no rec_date: not registered yet
        ],
    )
    assert warned(engine, "RCV-01") == {"T1", "K2"}
    assert related(engine, "RCV-01") == {"T1": {"K2"}}
    [w] = warnings(engine, "RCV-01")
    assert w["mof_div_code"] == ZHENGZHOU  # the receiving region must answer
    assert w["occurred_on"] == date(2025, 2, 10)
    assert w["evidence"]["lag_working_days"] == 11
    assert w["message"] == (
        "the transfer of 2025-01-20 was registered 11 working days later (1 continuation(s) late, limit 10): "
        "1000.00 yuan"
    )
    assert warned(engine, "RCV-01", params={"working_days": 11}) == set()


def test_late_pass_on_general_and_special_deadlines(engine: Engine, tmp_path: Path) -> None:
    # from 2025-01-20: 2025-03-07 is the 30th working day, 03-10 the 31st, 04-21 the 60th, 04-22 the 61st
    load(
        engine,
        tmp_path,
        ba_bgt_info=[
            transfer("T1", "1000.00"),
            continuation("K1", "T1", "1000.00", doc_date="2025-03-07"),  # general, 30: in time
            transfer("T2", "1000.00"),
            continuation("K2", "T2", "500.00", doc_date="2025-03-07"),
            continuation("K3", "T2", "500.00", doc_date="2025-03-10"),  # general, 31: late
            transfer("T3", "1000.00", spe_fund_code="ZX001"),
            continuation("K4", "T3", "1000.00", doc_date="2025-04-21"),  # special, 60: in time
            transfer("T4", "1000.00", spe_fund_code="ZX001"),
            continuation("K5", "T4", "1000.00", doc_date="2025-04-22"),  # special, 61: late
        ],
    )
    assert warned(engine, "RCV-02") == {"T2", "K3", "T4", "K5"}
    assert related(engine, "RCV-02") == {"T2": {"K3"}, "T4": {"K5"}}
    deadlines = {w["object_id"]: w["evidence"]["deadline_working_days"] for w in warnings(engine, "RCV-02")}
    assert deadlines == {"T2": 30, "T4": 60}
    by_region = {ZHENGZHOU: {"general_working_days": 31, "special_working_days": 61}}
    assert warned(engine, "RCV-02", by_region=by_region) == set()


def test_idle_transfer_undistributed_long_after_receipt(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[
            # received 2025-06-01 (its continuation's rec_date), 30% still undistributed
            transfer("T1", "1000.00", doc_date="2025-05-20"),
            continuation("K1", "T1", "700.00", rec_date="2025-06-01"),
            # after the adjustment of its continuation exactly 20% undistributed: a near miss
            transfer("T2", "1000.00", doc_date="2025-04-20"),
            continuation("K2", "T2", "700.00", rec_date="2025-05-01"),
            # nothing passed on: received on its own document date
            transfer("T3", "1000.00", doc_date="2025-03-01"),
            # fiscal 2025 ends on 31 December: 91 days after 10-01, 90 after 10-02
            transfer("T4", "1000.00", doc_date="2025-09-20"),
            continuation("K4", "T4", "500.00", rec_date="2025-10-01"),
            transfer("T5", "1000.00", doc_date="2025-09-20"),
            continuation("K5", "T5", "500.00", rec_date="2025-10-02"),
        ],
        bgt_adj=[adjustment("A1", "K2", "100.00")],
        pay_voucher=[
            payment(f"P{k}", "1.00", bgt_id=k, vou_date="2025-10-09") for k in ("K1", "K2", "K4", "K5")
        ],
    )
    assert warned(engine, "ALC-01", as_of=date(2025, 8, 30)) == {"T3"}  # T1: 90 days
    assert warned(engine, "ALC-01", as_of=date(2025, 8, 31)) == {"T1", "T3"}  # T1: 91 days
    assert warned(engine, "ALC-01", as_of=date(2026, 6, 30)) == {"T1", "T3", "T4"}
    [w] = [w for w in warnings(engine, "ALC-01") if w["object_id"] == "T1"]
    assert w["mof_div_code"] == ZHENGZHOU and w["amount_fen"] == 30_000
    assert w["evidence"]["idle_days"] == 213 and w["evidence"]["year_end"] == "2025-12-31"
    assert w["message"] == (
        "300.00 of the transfer's 1000.00 yuan (30.0%) not passed on or assigned 213 days after its "
        "receipt on 2025-06-01"
    )


def test_idle_unit_indicator_without_any_payment(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[
            indicator("B1", "1000.00"),  # document of 2025-01-10, no payment
            indicator("B2", "1000.00"),
            indicator("B3", "1000.00"),  # its only payment is deleted
            indicator("B4", "1000.00", is_deleted="1"),
        ],
        pay_voucher=[
            payment("P1", "10.00", bgt_id="B2", vou_date="2025-12-01"),
            payment("P2", "10.00", bgt_id="B3", is_deleted="1"),
        ],
    )
    assert warned(engine, "ALC-01", as_of=date(2025, 4, 10)) == set()  # 90 days
    assert warned(engine, "ALC-01", as_of=date(2025, 4, 11)) == {"B1", "B3"}  # 91 days
    assert warned(engine, "ALC-01", as_of=date(2025, 4, 11), params={"idle_days": 91}) == set()


def test_budget_change_beyond_a_fifth_of_the_original(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator(f"B{i}", "1000.00") for i in range(1, 7)],
        bgt_adj=[
            adjustment("A1", "B1", "200.00"),  # exactly 20%: a near miss
            adjustment("A2", "B2", "200.01"),
            adjustment("A3", "B3", "-250.00"),  # down by a quarter
            adjustment("A4", "B4", "300.00"),  # up and down again: no change
            adjustment("A5", "B4", "-300.00"),
            adjustment("A6", "B5", "300.00", is_deleted="1"),
            adjustment("A7", "B6", "150.00"),  # 21% in two steps
            adjustment("A8", "B6", "60.00", adj_date="2025-07-01"),
        ],
    )
    assert warned(engine, "ALC-02") == {"B2", "B3", "B6"}
    [w] = [w for w in warnings(engine, "ALC-02") if w["object_id"] == "B6"]
    assert w["amount_fen"] == 21_000 and w["occurred_on"] == date(2025, 7, 1)
    assert w["message"] == (
        "adjusted by 210.00 yuan in 2 adjustment(s), 21.0% of the original 1000.00 yuan (now 1210.00 yuan)"
    )
    assert warned(engine, "ALC-02", params={"change_pct": 21}) == {"B3"}


def test_year_end_rush_in_a_closed_year(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        agency=[agency("001002", "郑州市第二初级中学", dept="001")],
        ba_bgt_info=[indicator("B1", "9000.00"), indicator("B2", "9000.00", agency_code="001002")],
        pay_voucher=[
            # 001001: exactly 30% in November and December
            payment("P1", "700.00", vou_date="2025-06-10"),
            payment("P2", "200.00", vou_date="2025-11-03"),
            payment("P3", "100.00", vou_date="2025-12-30"),
            payment("P4", "5000.00", vou_date="2025-12-30", is_deleted="1"),
            # 001002: 30.001%
            payment("P5", "699.99", vou_date="2025-06-10", agency_code="001002", bgt_id="B2"),
            payment("P6", "300.01", vou_date="2025-12-01", agency_code="001002", bgt_id="B2"),
        ],
    )
    assert warned(engine, "PRG-02", as_of=date(2025, 12, 30)) == set()  # 2025 not closed yet
    assert warned(engine, "PRG-02", as_of=date(2025, 12, 31)) == {"001002"}
    [w] = warnings(engine, "PRG-02")
    assert (w["object_type"], w["fiscal_year"], w["amount_fen"]) == ("agency", 2025, 30_001)
    assert w["message"] == "paid 300.01 of 1000.00 yuan (30.0%) in months 11, 12"
    assert warned(engine, "PRG-02", params={"share_pct": 29}) == {"001001", "001002"}
