"""Who is calling: the principal a validated token names (issue 5)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Body(StrEnum):
    """The kind of body a caller works for (the token's ``body`` claim)."""

    congress = "congress"  # 人大预算工委 / 财经委
    audit = "audit"  # 审计机关
    discipline = "discipline"  # 纪检监察机关
    finance = "finance"  # 财政部门: answers questions and works off warnings
    admin = "admin"  # runs the service
    audit_admin = "audit_admin"  # reads the audit log


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str  # the caller's stable id at the issuer
    body: Body
    region: str | None  # the mof_div_code of its jurisdiction (its whole subtree); None: every region
    pii: bool = False  # personal-data clearance (revealed only with a reason, within a quota)
    org: str | None = None  # the caller's organisation, as the issuer names it
