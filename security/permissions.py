"""Which body may call which operation (function-level authorisation), in one table.

Every REST route is an operation ``"METHOD /path/template"``; every GraphQL root field is ``"graphql:field"``.
An operation missing from the table is refused to everyone, so a new route is closed until someone decides
who may call it (a test walks every route and root field and fails on one missing here).

Oversight bodies (people's congress, audit, discipline inspection) and the finance bureaus read the fiscal
data of their own jurisdiction; ``admin`` runs the service (health, sources) and reads no fiscal data;
``audit_admin`` reads the audit log and nothing else.
"""

from __future__ import annotations

import re

from security.principal import Body

PUBLIC: frozenset[Body] = frozenset()  # an empty set: no token needed
READERS = frozenset({Body.congress, Body.audit, Body.discipline, Body.finance})
OPERATORS = READERS | {Body.admin}
AUDITORS = frozenset({Body.audit_admin})
FINANCE = frozenset({Body.finance})  # answers warnings (预警处置) and inquiries, for its own region only
ASKERS = frozenset({Body.congress, Body.audit, Body.discipline})  # raise inquiries (询问函), accept, return

OPERATIONS: dict[str, frozenset[Body]] = {
    # the service itself
    "GET /healthz": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "GET /graphql": PUBLIC,  # the GraphiQL page, served only where introspection is turned on
    "GET /v1/sources": OPERATORS,
    # the oversight questions
    "GET /v1/summary": READERS,
    "GET /v1/drilldown": READERS,
    "GET /v1/indicators/{bgt_id}": READERS,
    "GET /v1/indicators/{bgt_id}/trace": READERS,
    "GET /v1/special-funds": READERS,
    "GET /v1/special-funds/{code}": READERS,
    "GET /v1/special-funds/{code}/flow": READERS,
    "GET /v1/payments": READERS,
    "GET /v1/payments/{pay_cert_id}": READERS,
    "GET /v1/payments/{pay_cert_id}/details": READERS,
    "GET /v1/payees": READERS,
    "GET /v1/payees/{payee_id}": READERS,
    "GET /v1/regions": READERS,
    "GET /v1/regions/{code}": READERS,
    "GET /v1/agencies": READERS,
    "GET /v1/projects": READERS,
    "GET /v1/classifications/{scheme}": READERS,
    "GET /v1/reports": READERS,  # the periodic oversight reports (weekly … annual), HTML, XLSX or JSON
    # dynamic monitoring: the rules, the warnings ledger, and its lifecycle (finance answers)
    "GET /v1/rules": READERS,
    "GET /v1/rules/{code}": READERS,
    "GET /v1/warnings": READERS,
    "GET /v1/warnings/stats": READERS,
    "GET /v1/warnings/escalations": READERS,
    "GET /v1/warnings/{id}": READERS,
    "POST /v1/warnings/{id}/transitions": FINANCE,
    # inquiries (询问函): oversight bodies ask, accept or return; finance answers
    "GET /v1/inquiries": READERS,
    "POST /v1/inquiries": ASKERS,
    "GET /v1/inquiries/{id}": READERS,
    "POST /v1/inquiries/{id}/answer": FINANCE,
    "POST /v1/inquiries/{id}/accept": ASKERS,
    "POST /v1/inquiries/{id}/return": ASKERS,
    # signed callbacks from a channel (an answer, a warning's step): no bearer token, the signature
    # of the channel's secret authenticates them (api/channels/service.py)
    "POST /v1/channels/{name}/callback": PUBLIC,
    # the audit log
    "GET /v1/audit": AUDITORS,
    # GraphQL: the endpoint admits every body that may call any root field; each root field is checked
    "POST /graphql": OPERATORS,
    "graphql:summary": READERS,
    "graphql:drilldown": READERS,
    "graphql:regions": READERS,
    "graphql:region": READERS,
    "graphql:agencies": READERS,
    "graphql:agency": READERS,
    "graphql:projects": READERS,
    "graphql:project": READERS,
    "graphql:indicator": READERS,
    "graphql:specialFunds": READERS,
    "graphql:specialFund": READERS,
    "graphql:payments": READERS,
    "graphql:payment": READERS,
    "graphql:payees": READERS,
    "graphql:payee": READERS,
    "graphql:rules": READERS,
    "graphql:rule": READERS,
    "graphql:warnings": READERS,
    "graphql:warning": READERS,
    "graphql:warningStats": READERS,
    "graphql:warningEscalations": READERS,
    "graphql:transitionWarning": FINANCE,
    "graphql:inquiries": READERS,
    "graphql:inquiry": READERS,
    "graphql:raiseInquiry": ASKERS,
    "graphql:answerInquiry": FINANCE,
    "graphql:acceptInquiry": ASKERS,
    "graphql:returnInquiry": ASKERS,
    "graphql:sources": OPERATORS,
    "graphql:__typename": OPERATORS,
    "graphql:__schema": OPERATORS,  # introspection, where the setting turns it on
    "graphql:__type": OPERATORS,
}

PUBLIC_OPERATIONS = frozenset(op for op, bodies in OPERATIONS.items() if not bodies and " " in op)
# a public route with path parameters matches its requests by pattern (a parameter: one path segment)
_PUBLIC_PATTERNS = tuple(
    re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(op)) + "$")
    for op in PUBLIC_OPERATIONS
    if "{" in op
)


def is_public(method: str, path: str) -> bool:
    """Whether a request may come without a token (HEAD goes as GET)."""
    operation = f"{'GET' if method == 'HEAD' else method} {path}"
    return operation in PUBLIC_OPERATIONS or any(p.match(operation) for p in _PUBLIC_PATTERNS)


def allowed(operation: str, body: Body | None) -> bool:
    """Whether a caller of ``body`` (None: no token) may call ``operation``."""
    bodies = OPERATIONS.get(operation)
    if bodies is None:
        return False  # not in the table: closed
    if not bodies:
        return True
    return body is not None and body in bodies
