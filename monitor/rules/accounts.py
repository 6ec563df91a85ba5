"""账户管理 (account management): payments into controlled accounts that are not approved or are closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.orm import aliased

from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import live, payment_columns
from schema.models import Account, PayVoucher

ACCOUNT_TYPES = {"1": "零余额账户", "2": "实有资金账户", "3": "财政专户"}


def _unapproved_account(ctx: Ctx) -> Select[Any]:
    v, a = PayVoucher, Account
    types = tuple(ctx["account_types"])
    unapproved = a.approval_doc_no.is_(None)
    closed = and_(a.closed_on.is_not(None), a.closed_on < v.vou_date)
    # the few controlled accounts that are unapproved or closed at all: a small set every payment is
    # looked up in, before the account itself is joined for the closing date
    suspect = aliased(Account, name="suspect")
    suspects = select(suspect.account_no).where(
        live(suspect),
        suspect.account_type.in_(types),
        or_(suspect.approval_doc_no.is_(None), suspect.closed_on.is_not(None)),
    )
    return (
        select(
            *payment_columns(),
            v.payee_acct_no.label("ev_account_no"),
            a.account_name.label("ev_account_name"),
            a.account_type.label("ev_account_type"),
            a.closed_on.label("ev_closed_on"),
            case((unapproved, "unapproved"), else_="closed").label("ev_reason"),
        )
        .join(a, a.account_no == v.payee_acct_no)
        .where(
            v.payee_acct_no.in_(suspects),
            live(v),
            live(a),
            a.account_type.in_(types),
            or_(unapproved, closed),
            ctx.in_regions(v.mof_div_code),
            ctx.new(v),
        )
    )


def _explain_account(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    kind = ACCOUNT_TYPES.get(ev["account_type"], ev["account_type"])
    if ev["reason"] == "unapproved":
        detail = f"into {kind} {ev['account_no']} that has no approval document"
    else:
        detail = f"into {kind} {ev['account_no']} closed on {ev['closed_on']}"
    return {"detail": detail}


UNAPPROVED_ACCOUNT = Rule(
    code="ACC-01",
    key="unapproved_account",
    group="账户管理",
    name="向未审批或已撤销账户支付",
    title="Payment into an unapproved or closed account",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="the payee account is a controlled account (types {account_types}) without an approval "
    "document, or one closed before the payment date",
    basis="《财政专户管理办法》(财库〔2013〕46号): 财政专户的开立、变更须经审核批准，"
    "撤销的专户不得再使用; 预算单位实有资金账户须经同级财政部门审批",
    message="paid {amount} yuan {detail}",
    query=_unapproved_account,
    inputs=("pay_voucher", "account"),
    params=(Param("account_types", th.CONTROLLED_ACCOUNT_TYPES, "account types that need approval"),),
    explain=_explain_account,
)

RULES: tuple[Rule, ...] = (UNAPPROVED_ACCOUNT,)
