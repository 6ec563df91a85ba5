"""账户管理, 收款人, 受益对象 and 数据质量 rules: each with a finding and a near miss, on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from connectors.ingest.loader import load_batch
from tests.factories import JINSHUI, ZHENGZHOU, indicator, payment, write_table
from tests.monitor_kit import load, run, warned, warnings

COMPANY = "91410100MA44XXXX1A"  # the payee of tests.factories.payment
OTHER_COMPANY = "91410100MA55YYYY2B"
PERSON_A, PERSON_B, PERSON_C = "410100195507080009", "410100197703130017", "410105198001010012"
SUBSIDY = "耕地地力保护补贴"


def account(no: str, account_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_no": no,
        "account_name": f"账户{no}",
        "bank_name": "中国工商银行郑州分行",
        "mof_div_code": ZHENGZHOU,
        "agency_code": "001001",
        "account_type": account_type,
        "opened_on": "2020-01-02",
        "approval_doc_no": "郑财库〔2020〕1号",
        "update_time": "2025-01-02T09:00:00",
        **extra,
    }


def risk(
    subject: str, risk_type: str, valid_from: str = "", valid_to: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "subject_id_type": "uscc" if subject.startswith("91") else "iden_no",
        "subject_id": subject,
        "subject_name": "某某",
        "risk_type": risk_type,
        "source": "test",
        "valid_from": valid_from,
        "valid_to": valid_to,
        "update_time": "2025-01-02T09:00:00",
        **extra,
    }


def detail(line_id: str, cert: str, amount: str, iden_no: str = PERSON_A, **extra: Any) -> dict[str, Any]:
    """A 一卡通 subsidy line of the voucher ``cert``."""
    return {
        "pay_detail_id": line_id,
        "pay_cert_id": cert,
        "payee_acct_name": "陈亮",
        "payee_acct_no": "6228480000053001004",
        "pay_amt": amount,
        "xpay_date": "2025-03-04",
        "per_name": "陈亮",
        "iden_no": iden_no,
        "town_code": "410102009",
        "pay_month": "2025-03",
        "subsidy_item": SUBSIDY,
        "update_time": "2025-03-04T16:30:00",
        **extra,
    }


def load_quietly(engine: Engine, folder: Path, **tables: list[dict[str, Any]]) -> None:
    """Load a batch without the incremental monitoring run a load makes, to run the rule incrementally."""
    for name, rows in tables.items():
        write_table(folder, name, rows)
    load_batch(engine, folder, source="test", monitor=False)


def classified(pay_cert_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    """A payment with its functional and economic classification."""
    return payment(pay_cert_id, amount, **{"dep_bgt_eco_code": "30201", **extra})


def test_unapproved_or_closed_controlled_account(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        account=[
            account("A1", "3", approval_doc_no=""),  # 财政专户 without approval
            account("A2", "2", closed_on="2025-03-04"),  # 实有资金账户 closed on 2025-03-04
            account("A3", "1", approval_doc_no=""),  # 零余额账户: not controlled
            account("A4", "3"),  # approved and open
            account("A5", "3", approval_doc_no="", is_deleted="1"),
        ],
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[
            payment("P1", "1000.00", payee_acct_no="A1"),
            payment("P2", "1000.00", payee_acct_no="A2", vou_date="2025-03-04"),  # on the closing day
            payment("P3", "1000.00", payee_acct_no="A2", vou_date="2025-03-05"),  # the day after
            payment("P4", "1000.00", payee_acct_no="A3"),
            payment("P5", "1000.00", payee_acct_no="A4"),
            payment("P6", "1000.00", payee_acct_no="A5"),
            payment("P7", "1000.00", payee_acct_no="A1", is_deleted="1"),
        ],
    )
    assert warned(engine, "ACC-01") == {"P1", "P3"}
    messages = {w["object_id"]: w["message"] for w in warnings(engine, "ACC-01")}
    assert messages == {
        "P1": "paid 1000.00 yuan into 财政专户 A1 that has no approval document",
        "P3": "paid 1000.00 yuan into 实有资金账户 A2 closed on 2025-03-04",
    }
    assert warned(engine, "ACC-01", params={"account_types": ["3"]}) == {"P1"}


def test_payee_enterprise_risk_valid_on_the_payment_date(engine: Engine, tmp_path: Path) -> None:
    third = "91410100MA66ZZZZ3C"
    load(
        engine,
        tmp_path,
        ext_risk=[
            risk(COMPANY, "dishonest_debtor", "2025-01-01", "2025-03-03"),  # expired the day before P1
            risk(OTHER_COMPANY, "abnormal_operation", "2025-03-05"),  # from the day after P3, open-ended
            risk(third, "tax_arrears"),  # not a listed type
            risk(third, "deregistered", is_deleted="1"),
        ],
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[
            payment("P1", "1000.00", vou_date="2025-03-04"),
            payment("P2", "1000.00", vou_date="2025-03-03"),  # on its last day
            payment("P3", "1000.00", vou_date="2025-03-04", unifsoc_cred_code=OTHER_COMPANY),
            payment("P4", "1000.00", vou_date="2025-03-05", unifsoc_cred_code=OTHER_COMPANY),
            payment("P5", "1000.00", unifsoc_cred_code=third),
        ],
    )
    assert warned(engine, "PAY-01") == {"P2", "P4"}
    [w] = [w for w in warnings(engine, "PAY-01") if w["object_id"] == "P2"]
    assert w["evidence"]["risk_types"] == "dishonest_debtor"
    assert w["message"] == (
        f"paid 1000.00 yuan to 河南中原建设工程有限公司 ({COMPANY}), on record as 失信被执行人 "
        "on the payment date"
    )
    by_region = {ZHENGZHOU: {"risk_types": ["abnormal_operation"]}}
    assert warned(engine, "PAY-01", by_region=by_region) == {"P4"}


def test_beneficiary_risk_valid_on_the_line_date(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ext_risk=[
            risk(PERSON_A, "deceased", "2025-03-04"),  # from the line's date on
            risk(PERSON_B, "public_employee", "2024-01-01", "2025-03-03"),  # expired the day before
            risk(PERSON_C, "vehicle_owner"),  # open at both ends
            risk(PERSON_C, "property_deed_tax"),
        ],
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[payment("P1", "400.00")],
        pay_detail=[
            detail("D1", "P1", "100.00", PERSON_A),
            detail("D2", "P1", "100.00", PERSON_A, xpay_date="2025-03-03"),  # the day before
            detail("D3", "P1", "100.00", PERSON_B),
            detail("D4", "P1", "100.00", PERSON_C),
        ],
    )
    assert warned(engine, "BEN-01") == {"D1", "D4"}
    [w] = [w for w in warnings(engine, "BEN-01") if w["object_id"] == "D4"]
    assert w["mof_div_code"] == ZHENGZHOU and w["object_type"] == "pay_detail"
    assert w["message"] == f"{SUBSIDY} 2025-03 paid 100.00 yuan to 陈亮, on record as 房产契税记录、车辆登记"


def test_duplicate_beneficiary_same_item_and_month(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[payment("P1", "300.00"), payment("P2", "300.00")],
        pay_detail=[
            detail("D1", "P1", "100.00"),
            detail("D2", "P2", "100.00", town_code="410102010"),  # again, in another batch and township
            detail("D3", "P1", "100.00", pay_month="2025-04"),  # another month
            detail("D4", "P2", "100.00", PERSON_B),  # another person
            detail("D5", "P2", "100.00", subsidy_item="城乡居民基础养老金"),  # another item
            detail("D6", "P1", "100.00", is_deleted="1"),
        ],
    )
    assert warned(engine, "BEN-02") == {"D1", "D2"}
    [w] = warnings(engine, "BEN-02")
    assert (w["object_id"], w["amount_fen"], w["evidence"]["lines"]) == ("D1", 20_000, 2)


def test_duplicate_beneficiary_found_incrementally(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[payment("P1", "200.00")],
        pay_detail=[detail("D1", "P1", "100.00"), detail("D2", "P1", "100.00", PERSON_B)],
    )
    assert warned(engine, "BEN-02") == set()
    load_quietly(
        engine,
        tmp_path / "second",
        pay_voucher=[payment("P2", "100.00", vou_date="2025-03-20")],
        pay_detail=[detail("D3", "P2", "100.00", xpay_date="2025-03-20")],  # PERSON_A again in March
    )
    report = run(engine, "BEN-02", incremental=True)
    assert [(o.code, o.mode, o.findings, o.raised) for o in report.outcomes] == [
        ("BEN-02", "incremental", 1, 1)
    ]
    [w] = warnings(engine, "BEN-02")
    assert w["object_id"] == "D1" and w["evidence"]["lines"] == 2
    assert run(engine, "BEN-02", incremental=True).outcomes[0].mode == "skipped"  # nothing new since
    full = run(engine, "BEN-02").outcomes[0]  # a full run finds the same, nothing more, nothing less
    assert (full.findings, full.raised, full.cleared) == (1, 0, 0)
    assert warned(engine, "BEN-02") == {"D1", "D3"}


def test_detail_mismatch_to_the_fen_and_incrementally(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[payment(f"P{i}", "1000.00") for i in range(1, 5)],
        pay_detail=[
            detail("D1", "P1", "600.00"),
            detail("D2", "P1", "400.00"),  # P1 adds up
            detail("D3", "P2", "600.00"),
            detail("D4", "P2", "400.01"),  # P2 one fen over
            detail("D5", "P3", "1000.00"),
            detail("D6", "P3", "0.01", is_deleted="1"),  # deleted: P3 adds up
        ],  # P4 has no detail lines
    )
    assert warned(engine, "DQ-01") == {"P2"}
    [w] = warnings(engine, "DQ-01")
    assert w["message"] == (
        "2 detail line(s) add up to 1000.01 yuan, the voucher to 1000.00 yuan (difference 0.01 yuan)"
    )
    # a late line of P1: the incremental run re-adds P1's lines, old and new
    load_quietly(engine, tmp_path / "second", pay_detail=[detail("D7", "P1", "0.50", pay_month="2025-04")])
    report = run(engine, "DQ-01", incremental=True)
    assert [(o.mode, o.findings, o.raised) for o in report.outcomes] == [("incremental", 1, 1)]
    assert {w["object_id"] for w in warnings(engine, "DQ-01")} == {"P1", "P2"}


def test_missing_classification(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "90000.00")],
        pay_voucher=[
            classified("P1", "100.00", exp_func_code=""),  # no functional code
            payment("P2", "100.00"),  # neither economic code
            classified("P3", "100.00", dep_bgt_eco_code="", gov_bgt_eco_code="50201"),  # one is enough
            classified("P4", "100.00"),
            payment("P5", "100.00", exp_func_code="", is_deleted="1"),
        ],
    )
    assert warned(engine, "DQ-02") == {"P1", "P2"}
    messages = {w["object_id"]: w["message"] for w in warnings(engine, "DQ-02")}
    assert messages["P1"] == "a payment of 100.00 yuan without functional classification (exp_func_code)"


def test_orphan_references_of_payments_and_indicators(engine: Engine, tmp_path: Path) -> None:
    project = {"pro_name": "校舍维修", "agency_code": "001001", "update_time": "2025-01-02T09:00:00"}
    load(
        engine,
        tmp_path,
        project=[
            {"pro_code": "PR1", "mof_div_code": ZHENGZHOU, **project},
            {"pro_code": "PR2", "mof_div_code": JINSHUI, **project},  # another region's project
        ],
        ba_bgt_info=[
            indicator("B1", "90000.00"),
            indicator("B2", "90000.00", is_deleted="1"),
            indicator("K1", "100.00", sup_bgt_id="B1"),
            indicator("K2", "100.00", sup_bgt_id="B9"),  # no such indicator
            indicator("K3", "100.00", sup_bgt_id="B2"),  # a deleted one
        ],
        pay_voucher=[
            classified("P1", "100.00", pro_code="PR1"),
            classified("P2", "100.00", bgt_id="B9"),
            classified("P3", "100.00", bgt_id="B2"),
            classified("P4", "100.00", pro_code="PR2"),
            classified("P5", "100.00", bgt_id=""),  # no reference at all: not an orphan
            classified("P6", "100.00", bgt_id="B9", pro_code="PR9"),  # both missing: one warning
        ],
    )
    assert warned(engine, "DQ-03") == {"P2", "P3", "P4", "P6", "K2", "K3"}
    found = {w["object_id"]: (w["object_type"], w["message"]) for w in warnings(engine, "DQ-03")}
    assert found["K2"] == ("indicator", "100.00 yuan referring to indicator B9, which does not exist")
    assert found["P6"] == (
        "payment",
        "100.00 yuan referring to indicator B9 and project PR9, which do not exist",
    )
