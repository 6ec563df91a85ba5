"""After a sync that changed only payments, the summaries move by the payments' deltas instead of being
rebuilt: fact cells, rollups and scope rollups must then equal a rebuild from scratch, row for row, whatever
the payments did (new, deleted, restored, moved to another indicator, unit, region, month, fund type or
classification, amount changed, the latest payment of a cell taken away)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from connectors.ingest import derive
from connectors.sync.runner import sync_source
from tests import sync_kit
from tests.sync_kit import T0, Record, World, stamp

REGIONS = ["410100000", "410102000", "410103000", "410122000", "410000000"]
SUMMARIES = {
    "fact_cell": "record_kind, fiscal_year, mof_div_code, rec_div_code, fund_type_code, dept_code, "
    "agency_code, pro_code, spe_fund_code, mof_dep_code, exp_func_code, gov_eco_code, dep_eco_code, month, "
    "bgt_id, budget_fen, transfer_fen, paid_fen, plan_fen, records, last_paid_on",
    "rollup": "fiscal_year, dim, mof_div_code, rec_div_code, fund_type_code, dim_key, budget_fen, "
    "transfer_fen, paid_fen, plan_fen, payments, last_paid_on",
    "scope_rollup": "fiscal_year, dim, scope_code, fund_type_code, dim_key, budget_fen, transfer_in_fen, "
    "transfer_out_fen, paid_fen, plan_fen, payments, last_paid_on",
    "payee": "payee_key, name, is_person, payee_type, unifsoc_cred_code, account_no",
    "payee_region": "payee_key, mof_div_code, vouchers, voucher_fen, details, detail_fen, first_date, "
    "last_date",
}


@pytest.fixture
def yth(tmp_path: Path) -> Iterator[sync_kit.SqlHarness]:
    h = sync_kit.sqlite_harness(tmp_path)
    yield h
    h.close()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table, columns in SUMMARIES.items():
            rows = conn.execute(text(f"SELECT {columns} FROM {table}")).all()
            out[table] = sorted((tuple(_plain(v) for v in r) for r in rows), key=repr)
    return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def rebuilt(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.begin() as conn:
        derive.rebuild_facts(conn)
        derive.rebuild_payees(conn)
    return snapshot(engine)


def agencies() -> list[Record]:
    return [
        {
            "agency_code": f"{100 + i}",
            "agency_name": f"单位{i}",
            "mof_div_code": region,
            "dept_code": f"{100 + i - i % 3}",
            "is_deleted": "0",
            "update_time": stamp(T0),
        }
        for region in REGIONS
        for i in range(6)
    ]


def indicators() -> list[Record]:
    out = []
    for i in range(30):
        region = REGIONS[i % len(REGIONS)]
        out.append(
            {
                "bgt_id": f"B{i:03d}",
                "mof_div_code": region,
                "fiscal_year": "2025",
                "cor_bgt_doc_no": f"财预〔2025〕{i}号",
                "doc_date": "2025-01-10",
                "agency_code": f"{100 + i % 6}",
                "fund_type_code": "1",
                "exp_func_code": "2050203",
                "spe_fund_code": f"ZX{i % 4}" if i % 2 else None,
                "manage_mof_dep_code": f"D{i % 3}",
                "amount": "500000.00",
                "is_deleted": "0",
                "update_time": stamp(T0),
            }
        )
    return out


def payment(i: int, rnd: random.Random, at: datetime) -> Record:
    region = rnd.choice(REGIONS)
    month = rnd.randint(1, 12)
    return {
        "pay_cert_id": f"P{i:05d}",
        "pay_cert_no": f"N{i:05d}",
        "bgt_id": rnd.choice([None, *(f"B{k:03d}" for k in range(30))]),
        "fiscal_year": "2025",
        "mof_div_code": region,
        "agency_code": f"{100 + rnd.randint(0, 6)}",  # 106 has no unit: its payments name none
        "pro_code": rnd.choice([None, "PR1", "PR2"]),
        "vou_date": f"2025-{month:02d}-{rnd.randint(1, 28):02d}",
        "pay_amt": f"{rnd.randint(1, 90000)}.{rnd.randint(0, 99):02d}",
        "payee_acct_name": f"收款人{rnd.randint(1, 40)}",
        "use_des": "采购",
        "fund_type_code": rnd.choice(["1", "1", "2"]),
        "exp_func_code": rnd.choice(["2050203", "20502", "205", "2080101", None]),
        "gov_bgt_eco_code": rnd.choice(["50201", "502", None]),
        "dep_bgt_eco_code": rnd.choice(["30201", None]),
        "is_deleted": "0",
        "update_time": stamp(at),
    }


def detail(i: int, rnd: random.Random, at: datetime, voucher: int) -> Record:
    return {
        "pay_detail_id": f"D{i:05d}",
        "pay_cert_id": f"P{voucher:05d}",
        "payee_acct_name": f"农户{rnd.randint(1, 30)}",
        "payee_acct_no": f"6217{rnd.randint(1, 30):06d}",
        "per_name": rnd.choice([None, f"农户{rnd.randint(1, 30)}"]),
        "pay_amt": f"{rnd.randint(1, 900)}.00",
        "xpay_date": rnd.choice([None, "2025-06-01"]),
        "is_deleted": "0",
        "update_time": stamp(at),
    }


def change_detail(record: Record, rnd: random.Random, at: datetime) -> Record:
    r = dict(record)
    what = rnd.choice(["amount", "payee", "delete"])
    if what == "amount":
        r["pay_amt"] = f"{rnd.randint(1, 900)}.00"
    elif what == "payee":
        r["payee_acct_name"] = f"农户{rnd.randint(1, 30)}"
        r["payee_acct_no"] = f"6217{rnd.randint(1, 30):06d}"
    else:
        r["is_deleted"] = "0" if r["is_deleted"] == "1" else "1"
    r["update_time"] = stamp(at)
    return r


def change(record: Record, rnd: random.Random, at: datetime) -> Record:
    r = dict(record)
    what = rnd.choice(
        ["amount", "date", "month", "bgt", "agency", "region", "fund", "func", "delete", "text"]
    )
    if what == "amount":
        r["pay_amt"] = f"{rnd.randint(1, 90000)}.{rnd.randint(0, 99):02d}"
    elif what == "date":  # within its month, earlier or later
        r["vou_date"] = r["vou_date"][:8] + f"{rnd.randint(1, 28):02d}"
    elif what == "month":
        r["vou_date"] = f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    elif what == "bgt":
        r["bgt_id"] = rnd.choice([None, *(f"B{k:03d}" for k in range(30))])
    elif what == "agency":
        r["agency_code"] = f"{100 + rnd.randint(0, 6)}"
    elif what == "region":
        r["mof_div_code"] = rnd.choice(REGIONS)
    elif what == "fund":
        r["fund_type_code"] = "2" if r["fund_type_code"] == "1" else "1"
    elif what == "func":
        r["exp_func_code"] = rnd.choice(["2050203", "20502", "205", "2080101", None])
    elif what == "delete":
        r["is_deleted"] = "0" if r["is_deleted"] == "1" else "1"
    else:
        r["use_des"] = r["use_des"] + "（更正）"
    r["update_time"] = stamp(at)
    return r


@pytest.mark.parametrize("seed", [1, 2])
def test_summaries_moved_by_payment_deltas_equal_a_rebuild(
    engine: Engine, yth: sync_kit.SqlHarness, seed: int
) -> None:
    rnd = random.Random(seed)
    world = World(yth)
    world.put("agency", agencies())
    world.put("ba_bgt_info", indicators())
    payments = {i: payment(i, rnd, T0) for i in range(400)}
    world.put("pay_voucher", list(payments.values()))
    details = {i: detail(i, rnd, T0, voucher=i // 3) for i in range(150)}
    world.put("pay_detail", list(details.values()))
    first = sync_source(engine, yth.source(), monitor=False)
    assert first.ok and any(p.startswith("summaries: ") and "fact cells" in p for p in first.post_load)
    next_id = 400
    for round_no in range(1, 6):
        at = T0 + timedelta(days=round_no)
        changed = [change(payments[i], rnd, at) for i in rnd.sample(sorted(payments), 60)]
        new = [payment(next_id + k, rnd, at) for k in range(15)]
        next_id += 15
        for r in changed + new:
            payments[int(r["pay_cert_id"][1:])] = r  # type: ignore[index]
        world.put("pay_voucher", changed + new)
        if round_no % 2:
            moved_details = [change_detail(details[i], rnd, at) for i in rnd.sample(sorted(details), 20)]
            for r in moved_details:
                details[int(r["pay_detail_id"][1:])] = r  # type: ignore[index]
            world.put("pay_detail", moved_details)
        report = sync_source(engine, yth.source(), monitor=False)
        assert report.ok, report.error
        assert any("moved by the changed payments" in p for p in report.post_load), report.post_load
        assert any(p.startswith("payees:") and "of the changed payments" in p for p in report.post_load)
        moved = snapshot(engine)
        assert moved == rebuilt(engine), f"round {round_no}"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM payment_change")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM payee_change")).scalar_one() == 0


def test_a_sync_that_changes_an_indicator_rebuilds_the_summaries(
    engine: Engine, yth: sync_kit.SqlHarness
) -> None:
    rnd = random.Random(3)
    world = World(yth)
    world.put("agency", agencies())
    world.put("ba_bgt_info", indicators())
    world.put("pay_voucher", [payment(i, rnd, T0) for i in range(50)])
    assert sync_source(engine, yth.source(), monitor=False).ok
    moved = indicators()[:2]
    for r in moved:
        r["spe_fund_code"], r["update_time"] = "ZX9", stamp(T0 + timedelta(days=1))
    world.put("ba_bgt_info", moved)
    world.put("pay_voucher", [change(payment(0, random.Random(9), T0), rnd, T0 + timedelta(days=1))])
    report = sync_source(engine, yth.source(), monitor=False)
    assert report.ok
    assert any(p.startswith("summaries: ") and "fact cells" in p for p in report.post_load), report.post_load
    assert snapshot(engine) == rebuilt(engine)


def test_taking_away_the_latest_payment_of_a_cell_and_a_region(
    engine: Engine, yth: sync_kit.SqlHarness
) -> None:
    """The latest payment date of a cell, a rollup row and a scope cannot be moved by deltas when the payment
    that held it leaves: it is read again from what is left."""
    rnd = random.Random(4)
    world = World(yth)
    world.put("agency", agencies())
    world.put("ba_bgt_info", indicators())
    base = payment(0, rnd, T0)
    same_cell = [
        base
        | {"pay_cert_id": f"L{k}", "pay_cert_no": f"L{k}", "mof_div_code": "410122000", "bgt_id": "B001"}
        | {"vou_date": day, "exp_func_code": "2050203", "fund_type_code": "1", "agency_code": "101"}
        for k, day in enumerate(["2025-03-05", "2025-03-20", "2025-03-12"])
    ]
    world.put("pay_voucher", same_cell + [payment(i, rnd, T0) for i in range(1, 60)])
    assert sync_source(engine, yth.source(), monitor=False).ok
    at = T0 + timedelta(days=1)
    latest = same_cell[1] | {"vou_date": "2025-02-01", "update_time": stamp(at)}  # to an earlier month
    world.put("pay_voucher", [latest])
    report = sync_source(engine, yth.source(), monitor=False)
    assert any("moved by the changed payments" in p for p in report.post_load), report.post_load
    assert snapshot(engine) == rebuilt(engine)
    gone = same_cell[2] | {"is_deleted": "1", "update_time": stamp(at + timedelta(days=1))}  # now the latest
    world.put("pay_voucher", [gone])
    report = sync_source(engine, yth.source(), monitor=False)
    assert any("moved by the changed payments" in p for p in report.post_load), report.post_load
    assert snapshot(engine) == rebuilt(engine)
    with engine.connect() as conn:
        last = conn.execute(
            text(
                "SELECT last_paid_on FROM fact_cell "
                "WHERE bgt_id = 'B001' AND mof_div_code = '410122000' AND month = 3"
            )
        ).scalar_one()
    assert _plain(last) == "2025-03-05"
