"""The whitelist (白名单): adding, listing and ending entries. The runner applies it (monitor.runner)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, insert, select, update

from monitor.rules import BY_CODE, BY_KEY
from monitor.runner import utcnow
from schema.models import MofDiv
from schema.monitor import WhitelistEntry


class WhitelistError(ValueError):
    """An entry that names an unknown rule or region, matches everything, or cannot be found."""


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WhitelistError(f"{what} {text!r} is not a date YYYY-MM-DD") from None


def add_entry(
    engine: Engine,
    *,
    reason: str,
    added_by: str,
    rule: str | None = None,
    region: str | None = None,
    agency: str | None = None,
    payee: str | None = None,
    object_id: str | None = None,
    valid_to: str | None = None,
) -> int:
    """Add an entry; at least one of rule, region, unit, payee or object must narrow it, and a reason and
    an author are required."""
    if not reason.strip() or not added_by.strip():
        raise WhitelistError("a whitelist entry needs a reason and who adds it")
    code = None
    if rule is not None:
        found = BY_CODE.get(rule) or BY_KEY.get(rule)
        if found is None:
            raise WhitelistError(f"no such rule: {rule}")
        code = found.code
    if not any((region, agency, payee, object_id)):
        raise WhitelistError("a whitelist entry must name a region, unit, payee or object, not just a rule")
    until = _day(valid_to, "--until")
    with engine.begin() as conn:
        if (
            region is not None
            and conn.execute(select(MofDiv.mof_div_code).where(MofDiv.mof_div_code == region)).first() is None
        ):
            raise WhitelistError(f"no such region: {region}")
        entry_id: int = conn.execute(
            insert(WhitelistEntry)
            .values(
                rule_code=code,
                mof_div_code=region,
                agency_code=agency,
                payee_key=payee,
                object_id=object_id,
                reason=reason.strip(),
                added_by=added_by.strip(),
                added_at=utcnow(),
                valid_to=until,
            )
            .returning(WhitelistEntry.id)
        ).scalar_one()
    return entry_id


def entries(engine: Engine) -> list[WhitelistEntry]:
    with engine.connect() as conn:
        rows = conn.execute(select(*WhitelistEntry.__table__.columns).order_by(WhitelistEntry.id))
        return [WhitelistEntry(**dict(r._mapping)) for r in rows]


def end_entry(engine: Engine, entry_id: int, on: str | None = None) -> None:
    last = _day(on, "--on") or utcnow().date() - timedelta(days=1)
    with engine.begin() as conn:
        done = conn.execute(
            update(WhitelistEntry).where(WhitelistEntry.id == entry_id).values(valid_to=last)
        ).rowcount
    if not done:
        raise WhitelistError(f"no whitelist entry {entry_id}")
