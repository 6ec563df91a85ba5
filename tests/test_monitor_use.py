"""资金使用 rules: each with a finding and a near miss, on both engines."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.factories import indicator, payment
from tests.monitor_kit import load, warned, warnings


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
