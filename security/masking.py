"""Masking of personal data (semantics.md, "Personal data").

A payee that is a person is shown masked unless the caller holds personal-data clearance (and, from the
security issue on, states a reason): name → first character and one ``*`` per further character, ID number
→ first 3 and last 4 kept, account number → last 4 kept. Enterprises and budget units are not masked.
"""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_id(iden_no: str | None) -> str | None:
    if not iden_no:
        return iden_no
    if len(iden_no) <= 7:
        return "*" * len(iden_no)
    return iden_no[:3] + "*" * (len(iden_no) - 7) + iden_no[-4:]


def mask_account(account_no: str | None) -> str | None:
    if not account_no:
        return account_no
    if len(account_no) <= 4:
        return "*" * len(account_no)
    return "*" * (len(account_no) - 4) + account_no[-4:]


def is_person(payee_type: str | None, iden_no: str | None, per_name: str | None = None) -> bool:
    """A person: payee type 4 (个人), or a record that carries a person's name or ID number."""
    return payee_type == "4" or bool(iden_no) or bool(per_name)
