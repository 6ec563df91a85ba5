"""Every default threshold of the warning rules, in one place: the demo plants its anomalies against them.

The demo generator keeps normal data clear of each of these and plants every anomaly well beyond it; the
warning-rule engine takes its defaults from here, so a planted anomaly and the rule that should find it
always agree. Money is in whole yuan, shares in whole percent (no floats), deadlines in working days
(工作日, by the Chinese calendar with its swapped working days).

A lag of N working days between two dates means: N working days fall after the earlier date, up to and
including the later one (so the next working day is a lag of 1).
"""

from __future__ import annotations

# --- 指标接收 (indicator receipt) ------------------------------------------------------------------
#: late_receipt: the receiving region registers a transfer (its indicators' ``rec_date``) more than this
#: many working days after the upper indicator's ``doc_date``.
LATE_RECEIPT_WORKING_DAYS = 10

#: late_pass_on: a continuation of a transfer (an indicator of the receiving region with ``sup_bgt_id`` =
#: the transfer) carries a ``doc_date`` more than this many working days after the transfer's ``doc_date``.
#: Budget Law art. 52: county-and-above governments pass general transfers on within 30 days and special
#: transfers within 60 days. A transfer is special (专项) when it carries a ``spe_fund_code``.
PASS_ON_DEADLINE_GENERAL_WORKING_DAYS = 30
PASS_ON_DEADLINE_SPECIAL_WORKING_DAYS = 60

# --- 资金分配 (fund allocation) ---------------------------------------------------------------------
#: idle_funds, transfer: at the evaluation date (the as-of date, or 31 December for a closed year) more
#: than IDLE_DAYS calendar days after ``rec_date`` the receiving region has still not passed on or assigned
#: more than IDLE_UNDISTRIBUTED_PCT percent of the transfer's current amount.
IDLE_DAYS = 90
IDLE_UNDISTRIBUTED_PCT = 20
#: idle_funds, unit indicator: an indicator assigned to a unit has no payment at all by the evaluation date
#: (31 December for a closed year, the as-of date otherwise), more than IDLE_DAYS calendar days after its
#: ``doc_date``.

#: budget_change: the adjustments of an indicator add up to more than this percentage of its original
#: ``amount`` (in either direction).
BUDGET_CHANGE_PCT = 20

# --- 拨付进度 (disbursement progress) ----------------------------------------------------------------
#: low_execution, per budget unit and fiscal year: time progress (序时进度: elapsed days of the year at the
#: evaluation date / days of the year, in percent) minus the execution rate (paid / current budget of the
#: unit's indicators, in percent) is more than the first grade; the grades are 黄 / 橙 / 红.
LOW_EXECUTION_GAP_POINTS = 15
LOW_EXECUTION_GRADES = (15, 30, 45)

#: year_end_rush, per budget unit and closed fiscal year: payments dated in YEAR_END_MONTHS are more than
#: this percentage of the unit's payments of the year (by amount).
YEAR_END_RUSH_SHARE_PCT = 30
YEAR_END_MONTHS = (11, 12)

# --- 资金使用 (fund use) -----------------------------------------------------------------------------
#: large_cash: one cash payment (set_mode_code 2) above LARGE_CASH_YUAN, or a unit's cash payments of one
#: calendar month adding up to more than CASH_MONTHLY_LIMIT_YUAN.
LARGE_CASH_YUAN = 50_000
CASH_MONTHLY_LIMIT_YUAN = 100_000

#: split_payment: one unit pays one payee two or more times on one day, each payment below the
#: threshold (the procurement limit) and their sum above it.
SPLIT_THRESHOLD_YUAN = 200_000

#: duplicate_payment: one unit pays the same payee the same amount with the same purpose (``use_des``)
#: twice within this many calendar days.
DUPLICATE_WINDOW_DAYS = 30

#: official_card_not_used: spending of these departmental economic codes (公务卡强制结算目录: 差旅费,
#: 公务接待费, 公务用车运行维护费) paid other than by official card (set_mode_code 3).
OFFICIAL_CARD_ECO_CODES = ("30211", "30217", "30231")

#: sangong_overspend: one payment under a 三公经费 / 会议费 / 培训费 code above its limit (yuan), or any
#: payment under these codes dated in Q4 whose purpose names a prepayment keyword.
SANGONG_LIMITS_YUAN = {
    "30212": 100_000,  # 因公出国（境）费用
    "30215": 100_000,  # 会议费
    "30216": 100_000,  # 培训费
    "30217": 10_000,  # 公务接待费
    "30231": 20_000,  # 公务用车运行维护费
    "31013": 300_000,  # 公务用车购置
}
SANGONG_ECO_CODES = tuple(sorted(SANGONG_LIMITS_YUAN))
SANGONG_Q4_MONTHS = (10, 11, 12)
SANGONG_PREPAY_KEYWORDS = ("预付", "预交", "预存")

#: suspicious_purpose: the purpose (``use_des``) contains one of these keywords.
SUSPICIOUS_KEYWORDS = (
    "礼品",
    "礼金",
    "购物卡",
    "旅游",
    "娱乐",
    "烟酒",
    "香烟",
    "名酒",
    "KTV",
    "高尔夫",
    "会所",
    "洗浴",
    "足浴",
)

# --- 账户管理 (account management) -------------------------------------------------------------------
#: unapproved_account: the payee account is in the account table as one of these types (实有资金账户,
#: 财政专户) without ``approval_doc_no``, or with ``closed_on`` before the payment's ``vou_date``.
CONTROLLED_ACCOUNT_TYPES = ("2", "3")

# --- 收款人 / 受益对象 (payees and beneficiaries) ------------------------------------------------------
#: payee_enterprise_risk: the payee's credit code has an ext_risk record of one of these types whose
#: validity (valid_from .. valid_to, open ends allowed) covers the payment's ``vou_date``.
ENTERPRISE_RISK_TYPES = ("dishonest_debtor", "abnormal_operation", "deregistered")
#: beneficiary_risk: a pay_detail line's ``iden_no`` has an ext_risk record of one of these types valid
#: at the line's ``xpay_date``.
BENEFICIARY_RISK_TYPES = ("deceased", "public_employee", "property_deed_tax", "vehicle_owner")
#: duplicate_beneficiary: one ``iden_no`` appears on two or more pay_detail lines with the same
#: ``subsidy_item`` and ``pay_month`` (in one batch or two, under one ``town_code`` or two).

# --- 数据质量 (data quality) --------------------------------------------------------------------------
#: detail_mismatch: a voucher with pay_detail lines whose sum differs from its ``pay_amt`` (to the fen).
#: missing_classification: a payment without ``exp_func_code``, or without both economic codes.
#: orphan_reference: a payment's ``bgt_id`` or ``pro_code``, or an indicator's ``sup_bgt_id``, names a
#: record that does not exist.
#: no_indicator / over_budget / over_plan: a payment without ``bgt_id``; an indicator whose payments add up
#: to more than its current amount; an indicator whose payments in one month exceed that month's plan.
