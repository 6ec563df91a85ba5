"""An independent computation of semantics.md's measures, straight from the feed tables in Python.

It shares no code with the service: it reads the raw warehouse rows, follows the definitions line by line
and is slow on purpose-built clarity, so that the service's rollups and SQL can be checked against it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, text

MEASURES = ("budget", "transfer_in", "transfer_out", "paid", "plan", "payments")


def fen(amount: str) -> int:
    """A decimal string of yuan from the API → integer fen."""
    sign = -1 if amount.startswith("-") else 1
    whole, _, frac = amount.lstrip("-").partition(".")
    assert len(frac) == 2, amount
    return sign * (int(whole) * 100 + int(frac))


@dataclass
class Warehouse:
    parent: dict[str, str | None]
    indicators: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    dept_of: dict[tuple[str, str], str | None]
    project_name: dict[tuple[str, str], str]
    agency_name: dict[tuple[str, str], str]
    subtrees: dict[str, set[str]] = field(default_factory=dict)

    def subtree(self, root: str) -> set[str]:
        if root not in self.subtrees:
            children: dict[str | None, list[str]] = defaultdict(list)
            for code, parent in self.parent.items():
                children[parent].append(code)
            found, todo = set(), [root]
            while todo:
                node = todo.pop()
                found.add(node)
                todo.extend(children.get(node, ()))
            self.subtrees[root] = found
        return self.subtrees[root]


def _rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def read(engine: Engine) -> Warehouse:
    parent = {r["mof_div_code"]: r["parent_code"] for r in _rows(engine, "SELECT * FROM mof_div")}
    adj: dict[str, int] = defaultdict(int)
    for r in _rows(engine, "SELECT bgt_id, add_amount_fen FROM bgt_adj WHERE NOT is_deleted"):
        adj[r["bgt_id"]] += r["add_amount_fen"]
    plan: dict[str, int] = defaultdict(int)
    for r in _rows(engine, "SELECT bgt_id, plan_amt_fen FROM pay_plan WHERE NOT is_deleted"):
        plan[r["bgt_id"]] += r["plan_amt_fen"]
    agencies = _rows(engine, "SELECT * FROM agency WHERE NOT is_deleted")
    dept_of = {(a["mof_div_code"], a["agency_code"]): a["dept_code"] for a in agencies}
    agency_name = {(a["mof_div_code"], a["agency_code"]): a["agency_name"] for a in agencies}
    project_name = {
        (p["mof_div_code"], p["pro_code"]): p["pro_name"]
        for p in _rows(engine, "SELECT * FROM project WHERE NOT is_deleted")
    }
    indicators = _rows(engine, "SELECT * FROM ba_bgt_info WHERE NOT is_deleted")
    for i in indicators:
        i["current"] = i["amount_fen"] + adj[i["bgt_id"]]
        i["plan"] = plan[i["bgt_id"]]
        i["month"] = _day(i["doc_date"]).month
        i["dept_code"] = dept_of.get((i["mof_div_code"], i["agency_code"])) if i["agency_code"] else None
    by_id = {i["bgt_id"]: i for i in indicators}
    payments = _rows(engine, "SELECT * FROM pay_voucher WHERE NOT is_deleted")
    for p in payments:
        ind = by_id.get(p["bgt_id"])
        p["spe_fund_code"] = ind["spe_fund_code"] if ind else None
        p["mof_dep_code"] = ind["manage_mof_dep_code"] if ind else None
        p["doc_no"] = ind["cor_bgt_doc_no"] if ind else None
        p["dept_code"] = dept_of.get((p["mof_div_code"], p["agency_code"]))
        p["month"] = _day(p["vou_date"]).month
    return Warehouse(parent, indicators, payments, dept_of, project_name, agency_name)


def _local(record: dict[str, Any], column: str) -> str | None:
    value = record.get(column)
    return f"{record['mof_div_code']}:{value}" if value is not None else None


def indicator_key(i: dict[str, Any], dim: str, level: int = 1) -> Any:
    return {
        "fund_type": lambda: i["fund_type_code"],
        "department": lambda: _local(i, "dept_code"),
        "agency": lambda: _local(i, "agency_code"),
        "project": lambda: _local(i, "pro_code"),
        "mof_dep": lambda: _local(i, "manage_mof_dep_code"),
        "spe_fund": lambda: i["spe_fund_code"],
        "exp_func": lambda: _prefix(i["exp_func_code"], (3, 5, 7)[level - 1]),
        "gov_eco": lambda: _prefix(i["gov_bgt_eco_code"], (3, 5)[level - 1]),
        "dep_eco": lambda: _prefix(i["dep_bgt_eco_code"], (3, 5)[level - 1]),
        "month": lambda: f"{i['month']:02d}",
        "indicator": lambda: i["bgt_id"],
        "payee": lambda: None,
    }[dim]()


def payment_key(p: dict[str, Any], dim: str, level: int = 1) -> Any:
    return {
        "fund_type": lambda: p["fund_type_code"],
        "department": lambda: _local(p, "dept_code"),
        "agency": lambda: _local(p, "agency_code"),
        "project": lambda: _local(p, "pro_code"),
        "mof_dep": lambda: _local(p, "mof_dep_code"),
        "spe_fund": lambda: p["spe_fund_code"],
        "exp_func": lambda: _prefix(p["exp_func_code"], (3, 5, 7)[level - 1]),
        "gov_eco": lambda: _prefix(p["gov_bgt_eco_code"], (3, 5)[level - 1]),
        "dep_eco": lambda: _prefix(p["dep_bgt_eco_code"], (3, 5)[level - 1]),
        "month": lambda: f"{p['month']:02d}",
        "indicator": lambda: p["bgt_id"],
        "payee": lambda: p["payee_key"],
    }[dim]()


def _prefix(code: str | None, digits: int) -> str | None:
    return code[:digits] if code is not None and len(code) >= digits else None


def _matches(key_of: Any, record: dict[str, Any], filters: dict[str, str]) -> bool:
    for dim, value in filters.items():
        if dim in ("exp_func", "gov_eco", "dep_eco"):
            code = key_of(record, dim, {3: 1, 5: 2, 7: 3}[len(value)])
            if code != value:
                return False
        elif dim == "month":
            if key_of(record, dim) != f"{int(value):02d}":
                return False
        elif dim in ("department", "agency", "project", "mof_dep") and ":" not in value:
            key = key_of(record, dim)
            if key is None or key.split(":", 1)[1] != value:
                return False
        elif key_of(record, dim) != value:
            return False
    return True


def measures(
    w: Warehouse, year: int, root: str | None, filters: dict[str, str], own_level: bool = False
) -> dict[str, int]:
    """The total of one question, by the definitions of semantics.md."""
    scope = w.subtree(root) if root else set(w.parent)
    where = {root} if own_level and root else scope
    out = dict.fromkeys(MEASURES, 0)
    for i in w.indicators:
        if i["fiscal_year"] != year or not _matches(indicator_key, i, filters):
            continue
        issuer, receiver = i["mof_div_code"], i["rec_div_code"]
        if issuer in where:
            out["plan"] += i["plan"]
            if i["agency_code"]:
                out["budget"] += i["current"]
        if i["agency_code"] or not receiver or root is None:
            continue
        if receiver in scope and issuer not in scope and (not own_level or receiver == root):
            out["transfer_in"] += i["current"]
        if issuer in scope and receiver not in scope and (not own_level or issuer == root):
            out["transfer_out"] += i["current"]
    for p in w.payments:
        if p["fiscal_year"] == year and p["mof_div_code"] in where and _matches(payment_key, p, filters):
            out["paid"] += p["pay_amt_fen"]
            out["payments"] += 1
    return out


def search(w: Warehouse, keyword: str, year: int | None = None, root: str | None = None) -> list[str]:
    """pay_cert_ids whose purpose, payee (a person's name masked), project, unit or indicator document
    number holds ``keyword``."""
    scope = w.subtree(root) if root else None
    found = []
    for p in w.payments:
        if year is not None and p["fiscal_year"] != year:
            continue
        if scope is not None and p["mof_div_code"] not in scope:
            continue
        person = p["payee_type"] == "4" or bool(p["iden_no"])
        name = p["payee_acct_name"]
        fields = (
            p["use_des"],
            name[0] + "*" * (len(name) - 1) if person else name,  # persons are searchable masked only
            w.project_name.get((p["mof_div_code"], p["pro_code"])) or "",
            w.agency_name.get((p["mof_div_code"], p["agency_code"])) or "",
            p["doc_no"] or "",
        )
        if any(keyword in f for f in fields):
            found.append(p["pay_cert_id"])
    return sorted(found)
