"""The lifecycle of an inquiry (询问函): 待答复 open → 已答复 answered → 已采纳 accepted, or → 已退回 returned
→ 已答复 answered again (a new round, with a new deadline) … .

A congress, audit or discipline user raises an inquiry about one object (a payment, an indicator, a project,
a special fund or a warning) that it may see; the finance bureau of the object's region answers it within a
deadline in working days; the asking organisation accepts the answer or returns it. Every step is kept as
an :class:`InquiryStep` with its actor and the way it came (``rest``, ``graphql`` or ``channel:NAME``, a
signed callback), and its event is written to the outbox in the same transaction (:func:`enqueue`), so a
step that rolls back leaves no event behind. The ``UPDATE`` of a step names the status and round it
expects, so of two concurrent steps on one inquiry only one can succeed (:class:`ConcurrentStep`).

Everything here runs inside the caller's transaction and knows nothing of HTTP: the API
(:mod:`api.inquiries.service`) and the signed callbacks of the delivery channels both call it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, select, update

from api.funds.service import _touches_scope as fund_touches_scope
from api.inquiries.workdays import add_workdays
from connectors.delivery import config as delivery_config
from connectors.delivery.config import FeedbackConfig
from connectors.delivery.events import (
    INQUIRY_ACCEPTED,
    INQUIRY_ANSWERED,
    INQUIRY_OVERDUE,
    INQUIRY_RAISED,
    INQUIRY_RETURNED,
    Event,
    utcnow,
)
from connectors.delivery.outbox import enqueue
from monitor import ledger
from schema.db import write_transaction
from schema.feedback import Inquiry, InquiryStep
from schema.models import BgtInfo, PayVoucher, Project, RegionClosure, SpeFund
from schema.monitor import Warning
from security.scope import Scope

MAX_SUBJECT = 200
MAX_QUESTION = 4000
MAX_ANSWER = 8000
MAX_COMMENT = 2000
MAX_ATTACHMENTS = 20
MAX_URL = 2000
MAX_SIZE = 2**31 - 1  # bytes: 2 GiB, what a GraphQL Int holds
ASKERS = frozenset({"congress", "audit", "discipline"})  # the bodies that raise inquiries
MEDIA_TYPE = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
SHA256 = r"[0-9a-fA-F]{64}"
URL = r"https?://[^\s\x00-\x1f\x7f]+"
_VIA = re.compile(r"(rest|graphql|channel:[a-z0-9][a-z0-9._-]{0,63})\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REGION = re.compile(r"\d{9}\Z")


class Status(StrEnum):
    open = "open"  # 待答复
    answered = "answered"  # 已答复
    returned = "returned"  # 已退回 (to be answered again)
    accepted = "accepted"  # 已采纳 (closed)

    @property
    def chinese(self) -> str:
        return {"open": "待答复", "answered": "已答复", "returned": "已退回", "accepted": "已采纳"}[self]


OPEN = (Status.open.value, Status.returned.value)  # waiting for the finance bureau: may become overdue


class Action(StrEnum):
    raise_ = "raise"  # 提出
    answer = "answer"  # 答复
    accept = "accept"  # 采纳
    return_ = "return"  # 退回

    @property
    def chinese(self) -> str:
        return {"raise": "提出", "answer": "答复", "accept": "采纳", "return": "退回"}[self]


class InquiryObjectType(StrEnum):
    payment = "payment"  # 支付凭证, by pay_cert_id
    indicator = "indicator"  # 预算指标, by bgt_id
    project = "project"  # 项目, by region:pro_code (as GraphQL's project key)
    special_fund = "special_fund"  # 专项资金, by spe_fund_code
    warning = "warning"  # 预警, by its id


STEPS: dict[Status, dict[Action, Status]] = {
    Status.open: {Action.answer: Status.answered},
    Status.returned: {Action.answer: Status.answered},
    Status.answered: {Action.accept: Status.accepted, Action.return_: Status.returned},
    Status.accepted: {},
}
EVENTS = {
    Action.raise_: INQUIRY_RAISED,
    Action.answer: INQUIRY_ANSWERED,
    Action.accept: INQUIRY_ACCEPTED,
    Action.return_: INQUIRY_RETURNED,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who takes a step: the token's subject, body, region and organisation (or, for a signed callback,
    the channel's configured finance bureau)."""

    sub: str
    body: str
    region: str | None
    org: str | None = None


@dataclass(frozen=True, slots=True)
class Asker:
    """Who raised an inquiry: only the same organisation (or, without one, the same subject) closes it."""

    sub: str
    body: str
    org: str | None
    region: str | None = None  # the asker's jurisdiction: an organisation's name is only unique within it


class StepError(ValueError):
    """A step that cannot be taken; the message says why and is safe to show."""


class InvalidStep(StepError):
    """The request itself is incomplete or malformed; the message starts with the field's name."""


class IllegalStep(StepError):
    """The action is not allowed from the inquiry's current status."""


class NotPermitted(StepError):
    """The actor may not take this step (not the body or region that answers, not the asker)."""


class ConcurrentStep(StepError):
    """Another step changed the inquiry between reading and writing it."""


class InquiryMissing(LookupError):
    """No inquiry of that id."""


class ObjectMissing(LookupError):
    """The object asked about does not exist or is outside the asker's jurisdiction (not told apart); the
    message is the one the object's own read route gives."""


@dataclass(frozen=True, slots=True)
class Target:
    """An object an inquiry is about, and the region whose finance bureau answers for it."""

    object_type: InquiryObjectType
    object_id: str
    region: str
    fiscal_year: int | None


@dataclass(frozen=True, slots=True)
class Step:
    """A step taken: the inquiry's status before (None for the raise) and after, its round and deadline."""

    step_id: int
    inquiry_id: int
    action: Action
    from_status: Status | None
    to_status: Status
    round: int
    deadline: date
    at: datetime


# --- the state machine ------------------------------------------------------------------------------------


def allowed_actions(status: str) -> list[Action]:
    """The actions the state machine allows from ``status`` (whoever takes them)."""
    return list(STEPS.get(Status(status), {})) if status in Status.__members__ else []


def check_raiser(actor: Actor) -> None:
    """Only oversight bodies raise inquiries (the finance bureaus answer them)."""
    if actor.body not in ASKERS:
        raise NotPermitted(
            f"only congress, audit and discipline bodies raise inquiries; the caller is {actor.body}"
        )


def check_actor(action: Action, actor: Actor, region: str, asker: Asker) -> None:
    """The finance bureau of the inquiry's own region answers (not one above or below it, which may see
    the inquiry); the asking organisation accepts or returns (any of its users: an inquiry outlives who
    typed it), or, when the asker's token named no organisation, the very user who raised it."""
    if action is Action.raise_:
        check_raiser(actor)
        return
    if action is Action.answer:
        if actor.body != "finance":
            raise NotPermitted(f"only the finance body answers inquiries; the caller is {actor.body}")
        if actor.region != region:
            raise NotPermitted(
                f"an inquiry to region {region} is answered by that region's finance bureau only; "
                f"the caller's region is {actor.region or 'none'}"
            )
        return
    same = (
        actor.body == asker.body
        and actor.region == asker.region
        and (actor.org == asker.org if asker.org is not None else actor.sub == asker.sub)
    )
    if not same:
        who = f"organisation {asker.org}" if asker.org is not None else "user who raised it"
        raise NotPermitted(f"only the asker ({asker.body}, {who}) may {action.value} this inquiry's answer")


def permitted(action: Action, actor: Actor, region: str, asker: Asker) -> bool:
    try:
        check_actor(action, actor, region, asker)
    except NotPermitted:
        return False
    return True


def parse_action(action: str) -> Action:
    """An action of a step on an existing inquiry (a raise is :func:`raise_inquiry`)."""
    names = ", ".join(a.value for a in Action if a is not Action.raise_)
    try:
        act = Action(action)
    except ValueError:
        raise InvalidStep(f"action: one of {names}; got {action[:40]!r}") from None
    if act is Action.raise_:
        raise InvalidStep(f"action: one of {names}; an inquiry is raised only once")
    return act


def plan(status: str, action: Action) -> Status:
    """Where ``action`` leads from ``status``; :class:`IllegalStep` names the current status and what is
    allowed from it."""
    to = STEPS.get(Status(status), {}).get(action) if status in Status.__members__ else None
    if to is None:
        shown = f"{status} ({Status(status).chinese})" if status in Status.__members__ else status
        options = ", ".join(a.value for a in allowed_actions(status)) or "none (the inquiry is closed)"
        raise IllegalStep(f"cannot {action.value} an inquiry that is {shown}; allowed: {options}")
    return to


# --- what a step carries -------------------------------------------------------------------------------


def check_text(
    field: str, value: str | None, longest: int, *, required: bool, line: bool = False
) -> str | None:
    """A text of a step: ``required`` ones not blank, none longer than ``longest`` characters, no NUL
    (PostgreSQL refuses it); a one-line text (``line``) holds no control character at all."""
    if value is None or not value.strip():
        if required:
            raise InvalidStep(f"{field}: required, and not blank")
        return None
    if len(value) > longest:
        raise InvalidStep(f"{field}: at most {longest} characters, got {len(value)}")
    if (line and _CONTROL.search(value)) or "\x00" in value:
        raise InvalidStep(f"{field}: holds control characters")
    return value


def _attachment(i: int, item: Any) -> dict[str, Any]:
    where = f"attachments[{i}]"
    if not isinstance(item, Mapping):
        raise InvalidStep(f"{where}: an object with name, media_type, size, sha256 and url")
    unknown = set(item) - {"name", "media_type", "size", "sha256", "url"}
    if unknown:
        raise InvalidStep(f"{where}: unknown fields {', '.join(sorted(map(str, unknown)))}")
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or _CONTROL.search(name) or not name.strip():
        raise InvalidStep(f"{where}.name: 1 to 255 printable characters")
    media = item.get("media_type")
    if not isinstance(media, str) or len(media) > 255 or not re.fullmatch(MEDIA_TYPE, media):
        raise InvalidStep(f"{where}.media_type: a media type such as application/pdf")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
        raise InvalidStep(f"{where}.size: a whole number of bytes from 0 to {MAX_SIZE}")
    digest = item.get("sha256")
    if not isinstance(digest, str) or not re.fullmatch(SHA256, digest):
        raise InvalidStep(f"{where}.sha256: 64 hexadecimal digits")
    url = item.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL or not re.fullmatch(URL, url)):
        raise InvalidStep(f"{where}.url: an http:// or https:// address of at most {MAX_URL} characters")
    return {"name": name, "media_type": media, "size": size, "sha256": digest.lower(), "url": url}


def attachments(items: Sequence[Any] | None) -> list[dict[str, Any]]:
    """An answer's attachments, checked: metadata only, the files stay where their owner keeps them."""
    if items is None:
        return []
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise InvalidStep("attachments: a list")
    if len(items) > MAX_ATTACHMENTS:
        raise InvalidStep(f"attachments: at most {MAX_ATTACHMENTS}, got {len(items)}")
    return [_attachment(i, item) for i, item in enumerate(items)]


def _via(via: str) -> str:
    if not isinstance(via, str) or not _VIA.match(via):
        raise InvalidStep("via: rest, graphql or channel:NAME")
    return via


def _step_texts(act: Action, given: str | None, files: Sequence[Any] | None) -> tuple[str | None, list[Any]]:
    """What each step carries: an answer its text (and attachments), a return why, an accept perhaps a
    comment; only an answer has attachments."""
    if act is not Action.answer and files:
        raise InvalidStep("attachments: only an answer carries attachments")
    if act is Action.answer:
        return check_text("answer", given, MAX_ANSWER, required=True), attachments(files)
    return check_text("comment", given, MAX_COMMENT, required=act is Action.return_), []


# --- the object asked about ----------------------------------------------------------------------------


def _payment(conn: Connection, scope: Scope, oid: str) -> Target:
    """As ``GET /v1/payments/{pay_cert_id}``: a live voucher paid inside the jurisdiction."""
    p = PayVoucher
    row = conn.execute(
        select(p.mof_div_code, p.fiscal_year).where(
            p.pay_cert_id == oid, p.is_deleted.is_(False), scope.regions(p.mof_div_code)
        )
    ).first()
    if row is None:
        raise ObjectMissing(f"no payment {oid!r}")
    return Target(InquiryObjectType.payment, oid, row[0], row[1])


def _indicator(conn: Connection, scope: Scope, oid: str) -> Target:
    """As ``GET /v1/indicators/{bgt_id}``: issued inside the jurisdiction or passed down into it. The
    issuing region answers; one seen only as passed down is answered by the region that received it."""
    b = BgtInfo
    row = conn.execute(
        select(
            b.mof_div_code, b.rec_div_code, b.fiscal_year, scope.regions(b.mof_div_code).label("own")
        ).where(b.bgt_id == oid, b.is_deleted.is_(False), scope.indicators(b))
    ).first()
    if row is None:
        raise ObjectMissing(f"no indicator {oid!r}")
    region: str = row[0] if row.own or row[1] is None else row[1]  # not own: passed down into the scope
    return Target(InquiryObjectType.indicator, oid, region, row[2])


def _project(conn: Connection, scope: Scope, oid: str) -> Target:
    """As GraphQL's ``project(key)``: a live project of a region inside the jurisdiction."""
    region, sep, code = oid.partition(":")
    if not sep or not _REGION.match(region) or not code:
        raise InvalidStep("object_id: a project is region:pro_code, e.g. 410100000:P001")
    row = conn.execute(
        select(Project.mof_div_code).where(
            Project.mof_div_code == region,
            Project.pro_code == code,
            Project.is_deleted.is_(False),
            scope.regions(Project.mof_div_code),
        )
    ).first()
    if row is None:
        raise ObjectMissing(f"no project {region}:{code}")
    return Target(InquiryObjectType.project, oid, region, None)


def _special_fund(conn: Connection, scope: Scope, oid: str) -> Target:
    """As ``GET /v1/special-funds/{code}``: managed inside the jurisdiction, or with an indicator issued
    or received in it. The managing region answers; a fund managed outside the jurisdiction (seen through
    its indicators) is answered by the finance bureau of the asker's own jurisdiction."""
    query = select(SpeFund.mof_div_code, scope.regions(SpeFund.mof_div_code).label("own")).where(
        SpeFund.spe_fund_code == oid, SpeFund.is_deleted.is_(False)
    )
    if scope.region is not None:
        query = query.where(fund_touches_scope(scope))
    row = conn.execute(query).first()
    if row is None:
        raise ObjectMissing(f"no special fund {oid!r}")
    region = row[0] if row.own or scope.region is None else scope.region
    return Target(InquiryObjectType.special_fund, oid, region, None)


def _warning(conn: Connection, scope: Scope, oid: str) -> Target:
    """As ``GET /v1/warnings/{id}``: a warning to be answered inside the jurisdiction."""
    if not re.fullmatch(r"[1-9]\d{0,9}", oid) or int(oid) >= 2**31:
        raise InvalidStep("object_id: a warning's id, a positive whole number")
    row = conn.execute(
        select(Warning.mof_div_code, Warning.fiscal_year).where(
            Warning.id == int(oid), scope.regions(Warning.mof_div_code)
        )
    ).first()
    if row is None:
        raise ObjectMissing(f"no warning {int(oid)}")
    return Target(InquiryObjectType.warning, str(int(oid)), row[0], row[1])


RESOLVERS = {
    InquiryObjectType.payment: _payment,
    InquiryObjectType.indicator: _indicator,
    InquiryObjectType.project: _project,
    InquiryObjectType.special_fund: _special_fund,
    InquiryObjectType.warning: _warning,
}


def resolve(conn: Connection, scope: Scope, object_type: str, object_id: str) -> Target:
    """The object asked about, if the asker may see it by the rule of the object's own read route (else
    :class:`ObjectMissing` with that route's message), and the region that must answer."""
    try:
        kind = InquiryObjectType(object_type)
    except ValueError:
        names = ", ".join(t.value for t in InquiryObjectType)
        raise InvalidStep(f"object_type: one of {names}; got {str(object_type)[:40]!r}") from None
    if not isinstance(object_id, str) or not 1 <= len(object_id) <= 64 or _CONTROL.search(object_id):
        raise InvalidStep("object_id: 1 to 64 printable characters")
    return RESOLVERS[kind](conn, scope, object_id)


# --- deadlines and events ------------------------------------------------------------------------------


def ancestors(conn: Connection, region: str) -> list[str]:
    """The region and every region above it, nearest first."""
    found = list(
        conn.execute(
            select(RegionClosure.ancestor)
            .where(RegionClosure.descendant == region)
            .order_by(RegionClosure.depth)
        ).scalars()
    )
    return found if found else [region]


def deadline(conn: Connection, region: str, today: date, config: FeedbackConfig) -> date:
    """The last day to answer an inquiry to ``region`` raised (or returned) ``today``: the working days
    configured for the nearest region of its ancestry (default 5), counted on the Chinese calendar."""
    return add_workdays(today, config.deadline_for(ancestors(conn, region)))


def _event(kind: str, row: Mapping[str, Any], at: datetime, extra: dict[str, Any]) -> Event:
    """The event of a step: identifiers, the subject line and a link; never the asker's identity beyond
    its body, nor the question's, answer's or comment's text (read through the API)."""
    audience = {
        INQUIRY_ANSWERED: frozenset({row["asker_body"]}),
        INQUIRY_OVERDUE: frozenset({"finance", row["asker_body"]}),
    }.get(kind, frozenset({"finance"}))
    data = {
        "inquiry_id": row["id"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "subject": row["subject"],
        "status": row["status"],
        "round": row["round"],
        "deadline": row["deadline"].isoformat(),
        "asker_body": row["asker_body"],
        "link": f"/v1/inquiries/{row['id']}",
        **extra,
    }
    return Event(type=kind, region=row["mof_div_code"], data=data, audience=audience, occurred_at=at)


def _config(config: FeedbackConfig | None) -> FeedbackConfig:
    return config if config is not None else delivery_config.current_config()


# --- the steps --------------------------------------------------------------------------------------------


def raise_inquiry(
    conn: Connection,
    object_type: str,
    object_id: str,
    *,
    actor: Actor,
    subject: str | None,
    question: str | None,
    via: str,
    now: datetime | None = None,
    today: date | None = None,
    config: FeedbackConfig | None = None,
) -> Step:
    """Raise an inquiry inside the caller's transaction ``conn``: the object must be one the actor may
    see (its scope is the actor's region's subtree); the inquiry goes to the object's region."""
    check_raiser(actor)
    target = resolve(conn, Scope(region=actor.region), object_type, object_id)
    title = check_text("subject", subject, MAX_SUBJECT, required=True, line=True)
    asked = check_text("question", question, MAX_QUESTION, required=True)
    how = _via(via)
    cfg = _config(config)
    at = now or utcnow()
    due = deadline(conn, target.region, today or ledger.china_today(), cfg)
    row: dict[str, Any] = {
        "object_type": target.object_type.value,
        "object_id": target.object_id,
        "mof_div_code": target.region,
        "fiscal_year": target.fiscal_year,
        "subject": title,
        "question": asked,
        "status": Status.open.value,
        "round": 1,
        "deadline": due,
        "asker_sub": actor.sub,
        "asker_body": actor.body,
        "asker_org": actor.org,
        "asker_region": actor.region,
        "raised_at": at,
        "updated_at": at,
        "overdue_round": 0,
    }
    row["id"] = int(conn.execute(insert(Inquiry).values(**row).returning(Inquiry.id)).scalar_one())
    step_id = _record(conn, row["id"], Action.raise_, None, Status.open, 1, actor, how, at, asked, [])
    enqueue(conn, [_event(INQUIRY_RAISED, row, at, {})], cfg)
    return Step(step_id, row["id"], Action.raise_, None, Status.open, 1, due, at)


def _record(
    conn: Connection,
    inquiry_id: int,
    action: Action,
    from_status: Status | None,
    to_status: Status,
    round_: int,
    actor: Actor,
    via: str,
    at: datetime,
    said: str | None,
    files: list[dict[str, Any]],
) -> int:
    return int(
        conn.execute(
            insert(InquiryStep)
            .values(
                inquiry_id=inquiry_id,
                action=action.value,
                from_status=from_status.value if from_status is not None else None,
                to_status=to_status.value,
                round=round_,
                actor_sub=actor.sub,
                actor_body=actor.body,
                actor_org=actor.org,
                via=via,
                at=at,
                text=said,
                attachments=files,
            )
            .returning(InquiryStep.id)
        ).scalar_one()
    )


COLUMNS = (
    Inquiry.id,
    Inquiry.object_type,
    Inquiry.object_id,
    Inquiry.mof_div_code,
    Inquiry.subject,
    Inquiry.status,
    Inquiry.round,
    Inquiry.deadline,
    Inquiry.asker_sub,
    Inquiry.asker_body,
    Inquiry.asker_org,
    Inquiry.asker_region,
)


def _current(conn: Connection, inquiry_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(*COLUMNS).where(Inquiry.id == inquiry_id)).first()
    return dict(row._mapping) if row is not None else None


def apply(
    conn: Connection,
    inquiry_id: int,
    action: str,
    *,
    actor: Actor,
    text: str | None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
    via: str,
    now: datetime | None = None,
    today: date | None = None,
    config: FeedbackConfig | None = None,
) -> Step:
    """Take one step (answer, accept or return) on an inquiry inside the caller's transaction ``conn``.

    ``text`` is the answer, or the comment of an accept (optional) or a return (required: why);
    ``attachments`` go with an answer only. A return opens a new round with a new deadline from today.
    """
    row = _current(conn, inquiry_id)
    if row is None:
        raise InquiryMissing(f"no inquiry {inquiry_id}")
    act = parse_action(action)
    asker = Asker(row["asker_sub"], row["asker_body"], row["asker_org"], row["asker_region"])
    check_actor(act, actor, row["mof_div_code"], asker)
    status, round_ = row["status"], row["round"]
    to_status = plan(status, act)
    said, files = _step_texts(act, text, attachments)
    how = _via(via)
    cfg = _config(config)
    at = now or utcnow()
    values: dict[str, Any] = {"status": to_status.value, "updated_at": at}
    if act is Action.answer:
        values["answered_at"] = at
    elif act is Action.accept:
        values["closed_at"] = at
    else:
        values["round"] = round_ + 1
        values["deadline"] = deadline(conn, row["mof_div_code"], today or ledger.china_today(), cfg)
    changed = conn.execute(
        update(Inquiry)
        .where(Inquiry.id == inquiry_id, Inquiry.status == status, Inquiry.round == round_)
        .values(**values)
    )
    if changed.rowcount != 1:
        raise ConcurrentStep(
            f"inquiry {inquiry_id} changed while this step was taken (it was {status}, round {round_}); "
            "read it again"
        )
    row.update(values)
    step_id = _record(
        conn, inquiry_id, act, Status(status), to_status, row["round"], actor, how, at, said, files
    )
    # the texts stay in the API, behind its scope and audit: free text may name a person, and a channel
    # (an e-mail, a broker) is outside both; the event says what happened and links to it
    extra: dict[str, Any] = {"attachments": len(files)} if act is Action.answer else {}
    enqueue(conn, [_event(EVENTS[act], row, at, extra)], cfg)
    return Step(step_id, inquiry_id, act, Status(status), to_status, row["round"], row["deadline"], at)


def transition(
    engine: Engine,
    inquiry_id: int,
    action: str,
    *,
    actor: Actor,
    text: str | None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
    via: str,
    now: datetime | None = None,
    today: date | None = None,
    config: FeedbackConfig | None = None,
) -> Step:
    """One step in a transaction of its own (on SQLite, holding the write lock from its start)."""
    with write_transaction(engine) as conn:
        return apply(
            conn,
            inquiry_id,
            action,
            actor=actor,
            text=text,
            attachments=attachments,
            via=via,
            now=now,
            today=today,
            config=config,
        )


def overdue_condition(today: date) -> ColumnElement[bool]:
    """Waiting for the finance bureau (open or returned) and past its deadline on ``today`` (China)."""
    return and_(Inquiry.status.in_(OPEN), Inquiry.deadline < today)


def sweep_overdue(engine: Engine, today: date | None = None, config: FeedbackConfig | None = None) -> int:
    """Tell once per round that an inquiry is overdue: in one write transaction, mark every overdue
    inquiry not yet told about for its current round (``overdue_round``) and enqueue its
    ``inquiry.overdue`` event, to the finance bureau and the asking body. The ``UPDATE`` names the round
    it expects, so two sweeps never tell one round twice. Returns how many were told."""
    day = today or ledger.china_today()
    cfg = _config(config)
    at = utcnow()
    with write_transaction(engine) as conn:
        rows = conn.execute(
            select(*COLUMNS, Inquiry.overdue_round)
            .where(overdue_condition(day), Inquiry.overdue_round < Inquiry.round)
            .order_by(Inquiry.id)
        ).all()
        events = []
        for r in rows:
            changed = conn.execute(
                update(Inquiry)
                .where(
                    Inquiry.id == r.id,
                    Inquiry.round == r.round,
                    Inquiry.status == r.status,
                    Inquiry.overdue_round < r.round,
                )
                .values(overdue_round=r.round)
            )
            if changed.rowcount == 1:
                events.append(_event(INQUIRY_OVERDUE, dict(r._mapping), at, {}))
        enqueue(conn, events, cfg)
    return len(events)
