"""The demo province generator: deterministic, consistent, in the feed format, and its anomalies findable.

One small province is generated per module (a few seconds) and read back; an independent re-implementation
of the warning rules (by the definitions in monitor.thresholds) checks that every planted anomaly is found and
that normal data sets off none of them.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from stdnum.cn import ric, uscc

from demo import SCALES, generate
from demo.workdays import is_workday, lag_workdays
from demo.writers import FIELDS, sha256_of
from monitor import thresholds as th

AS_OF = date(2026, 10, 31)
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
AMOUNT_FIELDS = {"amount", "add_amount", "plan_amt", "pay_amt", "budget_amt", "adjusted_amt", "exec_amt"}


# --- reading a batch ------------------------------------------------------------------------------------


def read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def read_batch(directory: Path, fmt: str = "csv", encoding: str = "utf-8") -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for table in FIELDS:
        path = directory / f"{table}.{fmt}"
        if fmt == "csv":
            out[table] = read_csv(path, encoding)
        elif fmt == "jsonl":
            rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
            out[table] = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
    return out


def fen(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, frac = text.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(frac))


def day(text: str) -> date:
    return date.fromisoformat(text)


def anomalies_of(directory: Path) -> list[dict]:
    return [orjson.loads(line) for line in (directory / "anomalies.jsonl").read_bytes().splitlines()]


# --- an independent rule oracle -------------------------------------------------------------------------


def evaluate(batch: dict[str, list[dict[str, str]]]) -> dict[str, set[str]]:
    """rule → ids of the objects it fires on (payments, details, indicators, agencies as region:code)."""
    live = {t: [r for r in rows if r.get("is_deleted", "0") != "1"] for t, rows in batch.items()}
    vouchers, details = live["pay_voucher"], live["pay_detail"]
    indicators = {r["bgt_id"]: r for r in live["ba_bgt_info"]}
    adj: dict[str, int] = defaultdict(int)
    for r in live["bgt_adj"]:
        adj[r["bgt_id"]] += fen(r["add_amount"])
    current = {b: fen(r["amount"]) + adj[b] for b, r in indicators.items()}
    hits: dict[str, set[str]] = defaultdict(set)

    paid: dict[str, int] = defaultdict(int)
    paid_month: dict[tuple[str, int], int] = defaultdict(int)
    for v in vouchers:
        pid, amt, d = v["pay_cert_id"], fen(v["pay_amt"]), day(v["vou_date"])
        if not is_workday(d):
            hits["non_working_day"].add(pid)
        if v["pay_acct_name"] == v["payee_acct_name"]:
            hits["same_name_transfer"].add(pid)
        if v["payee_type"] in ("1", "2"):
            hits["unit_to_unit"].add(pid)
        if v["set_mode_code"] == "2" and amt > th.LARGE_CASH_YUAN * 100:
            hits["large_cash"].add(pid)
        if not v["bgt_id"]:
            hits["no_indicator"].add(pid)
        elif v["bgt_id"] not in indicators:
            hits["orphan_reference"].add(pid)
        else:
            paid[v["bgt_id"]] += amt
            paid_month[(v["bgt_id"], d.month)] += amt
        eco = v["dep_bgt_eco_code"]
        if eco in th.OFFICIAL_CARD_ECO_CODES and v["set_mode_code"] != "3":
            hits["official_card_not_used"].add(pid)
        if eco in th.SANGONG_LIMITS_YUAN and (
            amt > th.SANGONG_LIMITS_YUAN[eco] * 100
            or (
                d.month in th.SANGONG_Q4_MONTHS and any(k in v["use_des"] for k in th.SANGONG_PREPAY_KEYWORDS)
            )
        ):
            hits["sangong_overspend"].add(pid)
        if any(k in v["use_des"] for k in th.SUSPICIOUS_KEYWORDS):
            hits["suspicious_purpose"].add(pid)
        if not v["exp_func_code"] or not (v["gov_bgt_eco_code"] or v["dep_bgt_eco_code"]):
            hits["missing_classification"].add(pid)
    projects = {(r["mof_div_code"], r["pro_code"]) for r in live["project"]}
    for v in vouchers:
        if v["pro_code"] and (v["mof_div_code"], v["pro_code"]) not in projects:
            hits["orphan_reference"].add(v["pay_cert_id"])

    cash: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    same_day: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
    same_pay: dict[tuple[str, str, str, str, str], list[dict]] = defaultdict(list)
    for v in vouchers:
        unit = (v["mof_div_code"], v["agency_code"])
        if v["set_mode_code"] == "2":
            cash[(*unit, v["vou_date"][:7])].append(v)
        same_day[(*unit, v["payee_acct_no"], v["vou_date"])].append(v)
        same_pay[(*unit, v["payee_acct_no"], v["pay_amt"], v["use_des"])].append(v)
    for group in cash.values():
        if sum(fen(v["pay_amt"]) for v in group) > th.CASH_MONTHLY_LIMIT_YUAN * 100:
            hits["large_cash"].update(v["pay_cert_id"] for v in group)
    limit = th.SPLIT_THRESHOLD_YUAN * 100
    for group in same_day.values():
        amounts = [fen(v["pay_amt"]) for v in group]
        if len(group) >= 2 and all(a < limit for a in amounts) and sum(amounts) > limit:
            hits["split_payment"].update(v["pay_cert_id"] for v in group)
    for group in same_pay.values():
        dates = sorted((day(v["vou_date"]), v["pay_cert_id"]) for v in group)
        for (d1, p1), (d2, p2) in zip(dates, dates[1:], strict=False):
            if (d2 - d1).days <= th.DUPLICATE_WINDOW_DAYS:
                hits["duplicate_payment"].update((p1, p2))

    accounts = {r["account_no"]: r for r in live["account"]}
    for v in vouchers:
        acct = accounts.get(v["payee_acct_no"])
        if (
            acct
            and acct["account_type"] in th.CONTROLLED_ACCOUNT_TYPES
            and (
                not acct["approval_doc_no"]
                or (acct["closed_on"] and day(acct["closed_on"]) < day(v["vou_date"]))
            )
        ):
            hits["unapproved_account"].add(v["pay_cert_id"])

    risks: dict[str, list[dict]] = defaultdict(list)
    for r in live["ext_risk"]:
        risks[r["subject_id"]].append(r)

    def at_risk(subject: str, when: date, types: tuple[str, ...]) -> bool:
        return any(
            r["risk_type"] in types
            and (not r["valid_from"] or day(r["valid_from"]) <= when)
            and (not r["valid_to"] or when <= day(r["valid_to"]))
            for r in risks.get(subject, [])
        )

    for v in vouchers:
        if v["unifsoc_cred_code"] and at_risk(
            v["unifsoc_cred_code"], day(v["vou_date"]), th.ENTERPRISE_RISK_TYPES
        ):
            hits["payee_enterprise_risk"].add(v["pay_cert_id"])
    by_period: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    detail_sum: dict[str, int] = defaultdict(int)
    for line in details:
        detail_sum[line["pay_cert_id"]] += fen(line["pay_amt"])
        if line["iden_no"] and at_risk(line["iden_no"], day(line["xpay_date"]), th.BENEFICIARY_RISK_TYPES):
            hits["beneficiary_risk"].add(line["pay_detail_id"])
        by_period[(line["iden_no"], line["subsidy_item"], line["pay_month"])].append(line["pay_detail_id"])
    for ids in by_period.values():
        if len(ids) > 1:
            hits["duplicate_beneficiary"].update(ids)
    for v in vouchers:
        if v["pay_cert_id"] in detail_sum and detail_sum[v["pay_cert_id"]] != fen(v["pay_amt"]):
            hits["detail_mismatch"].add(v["pay_cert_id"])

    plans: dict[tuple[str, int], int] = defaultdict(int)
    for r in live["pay_plan"]:
        plans[(r["bgt_id"], int(r["plan_month"]))] += fen(r["plan_amt"])
    for (bgt, month), amount in paid_month.items():
        if amount > plans.get((bgt, month), 0):
            hits["over_plan"].add(bgt)
    for bgt, amount in paid.items():
        if amount > current[bgt]:
            hits["over_budget"].add(bgt)
    for bgt, r in indicators.items():
        if adj[bgt] and abs(adj[bgt]) * 100 > th.BUDGET_CHANGE_PCT * fen(r["amount"]):
            hits["budget_change"].add(bgt)

    children: dict[str, list[dict]] = defaultdict(list)
    for r in indicators.values():
        if r["sup_bgt_id"]:
            if r["sup_bgt_id"] not in indicators:
                hits["orphan_reference"].add(r["bgt_id"])
            else:
                children[r["sup_bgt_id"]].append(r)
    for bgt, r in indicators.items():
        end = min(date(int(r["fiscal_year"]), 12, 31), AS_OF)
        if r["rec_div_code"]:
            kids = children.get(bgt, [])
            received = min((day(k["rec_date"]) for k in kids if k["rec_date"]), default=day(r["doc_date"]))
            undistributed = current[bgt] - sum(current[k["bgt_id"]] for k in kids)
            if (
                end - received
            ).days > th.IDLE_DAYS and undistributed * 100 > th.IDLE_UNDISTRIBUTED_PCT * current[bgt]:
                hits["idle_funds"].add(bgt)
            deadline = (
                th.PASS_ON_DEADLINE_SPECIAL_WORKING_DAYS
                if r["spe_fund_code"]
                else th.PASS_ON_DEADLINE_GENERAL_WORKING_DAYS
            )
            for k in kids:
                if (
                    k["rec_date"]
                    and lag_workdays(day(r["doc_date"]), day(k["rec_date"])) > th.LATE_RECEIPT_WORKING_DAYS
                ):
                    hits["late_receipt"].add(bgt)
                if lag_workdays(day(r["doc_date"]), day(k["doc_date"])) > deadline:
                    hits["late_pass_on"].add(bgt)
        elif r["agency_code"] and bgt not in paid and (end - day(r["doc_date"])).days > th.IDLE_DAYS:
            hits["idle_funds"].add(bgt)

    unit_paid: dict[tuple[str, str, str], int] = defaultdict(int)
    unit_late: dict[tuple[str, str, str], int] = defaultdict(int)
    unit_budget: dict[tuple[str, str, str], int] = defaultdict(int)
    for v in vouchers:
        key = (v["mof_div_code"], v["agency_code"], v["fiscal_year"])
        unit_paid[key] += fen(v["pay_amt"])
        if int(v["vou_date"][5:7]) in th.YEAR_END_MONTHS:
            unit_late[key] += fen(v["pay_amt"])
    for bgt, r in indicators.items():
        if r["agency_code"]:
            unit_budget[(r["mof_div_code"], r["agency_code"], r["fiscal_year"])] += current[bgt]
    for key, budget in unit_budget.items():
        year = int(key[2])
        end = min(date(year, 12, 31), AS_OF)
        elapsed = (
            ((end - date(year, 1, 1)).days + 1) * 1000 // ((date(year, 12, 31) - date(year, 1, 1)).days + 1)
        )
        if budget and elapsed * budget - unit_paid[key] * 1000 > th.LOW_EXECUTION_GAP_POINTS * 10 * budget:
            hits["low_execution"].add(f"{key[0]}:{key[1]}:{key[2]}")
    for key, total in unit_paid.items():
        if key[2] == "2025" and total and unit_late[key] * 100 > th.YEAR_END_RUSH_SHARE_PCT * total:
            hits["year_end_rush"].add(f"{key[0]}:{key[1]}:{key[2]}")
    return hits


def planted(anomalies: list[dict]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """rule → (primary ids, all ids) the ground truth names, in the oracle's id form."""
    primary: dict[str, set[str]] = defaultdict(set)
    every: dict[str, set[str]] = defaultdict(set)
    for a in anomalies:
        if a["object_type"] == "agency":
            ids = [f"{a['mof_div_code']}:{i}:{a['fiscal_year']}" for i in a["object_ids"]]
        else:
            ids = list(a["object_ids"])
        # a payment-level finding names all its payments (split, duplicate, cumulative cash); an indicator
        # finding names the indicator first, then the continuations or plan line involved
        primary[a["rule"]].update(ids if a["object_type"] in ("payment", "pay_detail") else ids[:1])
        every[a["rule"]].update(ids)
    return primary, every


# --- tests ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, scale="small", seed=7)
    return out


@pytest.fixture(scope="module")
def batch(small: Path) -> dict[str, list[dict[str, str]]]:
    return read_batch(small)


def test_same_seed_gives_identical_files(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, scale="small", seed=7)
    names = sorted(p.name for p in small.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (small / name).read_bytes() == (again / name).read_bytes(), name


def test_manifest_counts_and_checksums_match_the_files(small: Path, batch: dict) -> None:
    manifest = orjson.loads((small / "manifest.json").read_bytes())
    assert manifest["source"] == "demo" and manifest["format_version"] == 1 and manifest["seed"] == 7
    assert set(manifest["tables"]) == set(FIELDS)
    for table, info in manifest["tables"].items():
        assert info["rows"] == len(batch[table]), table
        assert info["sha256"] == sha256_of(small / f"{table}.csv"), table
    assert 15_000 <= manifest["tables"]["pay_voucher"]["rows"] <= 25_000


def test_headers_and_value_formats(small: Path, batch: dict) -> None:
    for table, fields in FIELDS.items():
        with (small / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            assert next(csv.reader(fh)) == list(fields)
        for row in batch[table]:
            for name in AMOUNT_FIELDS & set(fields):
                assert AMOUNT.match(row[name]), (table, name, row[name])
            for name in (
                "doc_date",
                "rec_date",
                "vou_date",
                "xpay_date",
                "adj_date",
                "opened_on",
                "closed_on",
            ):
                if row.get(name):
                    date.fromisoformat(row[name])
            if row.get("update_time"):
                assert row["update_time"].endswith("+08:00")


def test_credit_codes_and_id_numbers_are_valid(batch: dict) -> None:
    codes = [
        r["unifsoc_cred_code"] for t in ("agency", "pay_voucher") for r in batch[t] if r["unifsoc_cred_code"]
    ]
    codes += [r["subject_id"] for r in batch["ext_risk"] if r["subject_id_type"] == "uscc"]
    assert codes and all(uscc.is_valid(c) for c in codes)
    ids = [r["iden_no"] for t in ("pay_voucher", "pay_detail") for r in batch[t] if r["iden_no"]]
    ids += [r["subject_id"] for r in batch["ext_risk"] if r["subject_id_type"] == "iden_no"]
    assert ids and all(ric.is_valid(i) for i in set(ids))


def test_every_planted_object_exists(small: Path, batch: dict) -> None:
    anomalies = anomalies_of(small)
    keys = {
        "payment": {r["pay_cert_id"] for r in batch["pay_voucher"] if r["is_deleted"] == "0"},
        "pay_detail": {r["pay_detail_id"] for r in batch["pay_detail"] if r["is_deleted"] == "0"},
        "indicator": {r["bgt_id"] for r in batch["ba_bgt_info"] if r["is_deleted"] == "0"}
        | {r["plan_id"] for r in batch["pay_plan"]},
        "agency": {r["agency_code"] for r in batch["agency"]},
    }
    by_rule: dict[str, int] = defaultdict(int)
    for a in anomalies:
        assert a["object_ids"] and set(a["object_ids"]) <= keys[a["object_type"]], a
        assert a["group"] and a["note"] and a["fiscal_year"] in (2025, 2026)
        by_rule[a["rule"]] += 1
    from demo.anomalies import RULES

    assert {r: n for r, n in by_rule.items() if n < 3} == {}
    assert set(by_rule) == set(RULES)


def test_planted_anomalies_are_found_and_normal_data_is_clean(small: Path, batch: dict) -> None:
    found = evaluate(batch)
    primary, every = planted(anomalies_of(small))
    from demo.anomalies import RULES

    for rule in RULES:
        assert primary[rule] <= found[rule], (rule, sorted(primary[rule] - found[rule])[:5])
        assert found[rule] <= every[rule], (rule, sorted(found[rule] - every[rule])[:5])


def test_details_sum_to_their_voucher_except_planted_mismatches(small: Path, batch: dict) -> None:
    sums: dict[str, int] = defaultdict(int)
    for d in batch["pay_detail"]:
        sums[d["pay_cert_id"]] += fen(d["pay_amt"])
    mismatched = {
        v["pay_cert_id"]
        for v in batch["pay_voucher"]
        if v["pay_cert_id"] in sums and sums[v["pay_cert_id"]] != fen(v["pay_amt"])
    }
    planted_ids = {i for a in anomalies_of(small) if a["rule"] == "detail_mismatch" for i in a["object_ids"]}
    assert mismatched == planted_ids and planted_ids


def test_normal_payments_fall_on_working_days_and_reference_their_units_indicators(
    small: Path, batch: dict
) -> None:
    odd = {
        i
        for a in anomalies_of(small)
        if a["rule"] in ("non_working_day", "no_indicator", "orphan_reference")
        for i in a["object_ids"]
    }
    indicators = {r["bgt_id"]: r for r in batch["ba_bgt_info"]}
    for v in batch["pay_voucher"]:
        if v["pay_cert_id"] in odd:
            continue
        assert is_workday(day(v["vou_date"])), v["pay_cert_id"]
        ind = indicators[v["bgt_id"]]
        assert (ind["mof_div_code"], ind["agency_code"]) == (v["mof_div_code"], v["agency_code"])
        assert day(v["vou_date"]) >= day(ind["doc_date"])


def test_transfers_pass_on_no_more_than_they_carry(batch: dict) -> None:
    rows = {r["bgt_id"]: r for r in batch["ba_bgt_info"] if r["is_deleted"] == "0"}
    adj: dict[str, int] = defaultdict(int)
    for r in batch["bgt_adj"]:
        adj[r["bgt_id"]] += fen(r["add_amount"])
    passed: dict[str, int] = defaultdict(int)
    for r in rows.values():
        if r["sup_bgt_id"] in rows:
            passed[r["sup_bgt_id"]] += fen(r["amount"]) + adj[r["bgt_id"]]
    assert passed
    for bgt, amount in passed.items():
        assert amount <= fen(rows[bgt]["amount"]), bgt
    levels = {r["mof_div_code"]: int(r["level_no"]) for r in batch["mof_div"]}
    transfer_levels = {
        (levels[r["mof_div_code"]], levels[r["rec_div_code"]]) for r in rows.values() if r["rec_div_code"]
    }
    assert {(1, 2), (2, 3), (3, 4)} <= transfer_levels
    assert {r["fund_type_code"] for r in rows.values()} >= {"1", "2", "3", "4", "9"}


def test_gb18030_and_jsonl_carry_the_same_records(batch: dict, tmp_path: Path) -> None:
    gb = tmp_path / "gb"
    generate(gb, scale="small", seed=7, encoding="gb18030")
    assert read_batch(gb, "csv", "gb18030") == batch
    jl = tmp_path / "jl"
    generate(jl, scale="small", seed=7, fmt="jsonl")
    assert read_batch(jl, "jsonl") == batch


def test_refuses_xlsx_beyond_a_sheet_and_unknown_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="xlsx"):
        generate(tmp_path, scale="province", fmt="xlsx")
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale="huge")
    assert SCALES["province"].payments == 5_000_000


def test_normal_purposes_avoid_every_keyword() -> None:
    from demo.paytypes import PAY_TYPES

    words = th.SUSPICIOUS_KEYWORDS + th.SANGONG_PREPAY_KEYWORDS
    for ptype in PAY_TYPES.values():
        for text in ptype.purposes:
            assert not any(w in text for w in words), text


def test_deleted_rows_are_never_needed(small: Path, batch: dict) -> None:
    deleted = {r["pay_cert_id"] for r in batch["pay_voucher"] if r["is_deleted"] == "1"}
    deleted |= {r["bgt_id"] for r in batch["ba_bgt_info"] if r["is_deleted"] == "1"}
    assert deleted
    for a in anomalies_of(small):
        assert not set(a["object_ids"]) & deleted
    live_refs = {v["bgt_id"] for v in batch["pay_voucher"] if v["is_deleted"] == "0"}
    assert not live_refs & deleted


def test_an_enterprise_is_paid_across_units_and_regions(batch: dict) -> None:
    payers: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for v in batch["pay_voucher"]:
        if v["payee_type"] == "3":
            payers[v["unifsoc_cred_code"]].add((v["mof_div_code"], v["agency_code"]))
    assert max(len({r for r, _ in units}) for units in payers.values()) >= 5


def test_xlsx_writer_is_readable_and_repeatable(tmp_path: Path) -> None:
    # a whole small province in xlsx takes a minute (openpyxl); the writer itself is what needs checking
    from openpyxl import load_workbook

    from demo.writers import TableWriter

    rows = [("410000000", "河南省", None, "1"), ("410100000", "郑州市", "410000000", "2")]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        writer = TableWriter(tmp_path / name, "mof_div", "xlsx", "utf-8")
        writer.write_all(rows)
        writer.close()
    first, second = (tmp_path / n / "mof_div.xlsx" for n in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    sheet = load_workbook(first, read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(FIELDS["mof_div"])
    assert values[2] == ("410100000", "郑州市", "410000000", "2")


def test_payment_dates_stay_within_the_data(batch: dict) -> None:
    for v in batch["pay_voucher"]:
        d = day(v["vou_date"])
        assert date(2025, 1, 1) <= d <= AS_OF and str(d.year) == v["fiscal_year"]
        assert day(v["xpay_date"]) - d <= timedelta(days=10)
