"""The GraphQL endpoint: ``POST /graphql``, with its guardrails.

- Depth, aliases and tokens are limited (strawberry's own validators and parser limit).
- A cost limit, computed before execution from the document, its variables and the page sizes it asks
  for (:mod:`api.graphql.cost`), rejects a document over budget with its cost and the budget.
- Batched operations are off unless ``OVERSIGHT_GRAPHQL_MAX_BATCH`` allows a few; GET queries are off.
- Errors are masked but for the service's own (a bad parameter, a GraphQL validation error).
- Introspection and the GraphiQL page exist only when ``OVERSIGHT_GRAPHQL_INTROSPECTION`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

import strawberry
from fastapi import Depends, Request
from graphql import GraphQLError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.orm import Session
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.deps import get_principal, get_scope_or_nowhere, get_session
from api.errors import ProblemError
from api.graphql.context import Context
from api.graphql.cost import Authorize, CostLimit
from api.graphql.inquiries import InquiryMutation
from api.graphql.monitoring import Mutation as MonitoringMutation
from api.graphql.query import Query
from api.graphql.scalars import MONEY, Money
from security.scope import Scope

Mutation = merge_types("Mutation", (MonitoringMutation, InquiryMutation))


class GraphQLSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_GRAPHQL_", extra="ignore")

    introspection: bool = Field(
        default=False,
        description="Serve schema introspection and the GraphiQL page (on in `oversight demo`).",
    )
    max_depth: int = Field(default=24, ge=1, description="Deepest field nesting a document may have.")
    max_aliases: int = Field(default=30, ge=0, description="Most aliases a document may use.")
    max_tokens: int = Field(default=5000, ge=1, description="Most tokens a document may hold.")
    max_cost: int = Field(
        default=50_000,
        ge=1,
        description="Budget of a document's cost: the fields it may resolve, each multiplied by the page "
        "sizes of the lists around it.",
    )
    max_batch: int = Field(default=0, ge=0, description="Operations one request may batch (0: batching off).")


def _safe(error: GraphQLError) -> bool:
    """Shown as is: the service's own errors, and errors raised before execution (the document or its
    variables are wrong). Anything else that fails while resolving is masked (and logged)."""
    original = error.original_error
    if original is None or isinstance(original, ProblemError):
        return True
    return not error.path


def make_schema(settings: GraphQLSettings) -> strawberry.Schema:
    # factories, not instances: an extension keeps the state of one execution
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(QueryDepthLimiter, max_depth=settings.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        Authorize,
        partial(CostLimit, budget=settings.max_cost),
        partial(MaskErrors, should_mask_error=lambda e: not _safe(e)),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    config = StrawberryConfig(
        scalar_map={Money: MONEY},
        batching_config={"max_operations": settings.max_batch} if settings.max_batch else None,
    )
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions, config=config)


def get_context(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope_or_nowhere)],
) -> Context:
    """The request's context: the guard's principal, and a way to charge its budget by the query's cost.
    On PostgreSQL, no parallel workers: a level of parents is one UNION ALL of small index-driven
    queries, which the planner would spread over a Parallel Append whose workers take longer to start
    than the whole level takes to answer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    principal = get_principal(request)
    limits = request.app.state.limits
    key = getattr(request.state, "rate_key", None)

    def charge(cost: int) -> bool:
        """Charge an operation by its cost: one request more per ``graphql_cost_unit`` of it."""
        units = cost // limits.settings.graphql_cost_unit
        if units <= 0 or key is None or not limits.enabled:
            return True
        return bool(limits.charge(key, principal.body if principal else None, units).allowed)

    return Context(session, scope, principal, charge, writer=request.app.state.writer)


def graphql_router(settings: GraphQLSettings | None = None) -> GraphQLRouter[Context, None]:
    settings = settings or GraphQLSettings()
    return GraphQLRouter(
        make_schema(settings),
        path="/graphql",
        context_getter=get_context,
        graphql_ide="graphiql" if settings.introspection else None,
        allow_queries_via_get=False,
        multipart_uploads_enabled=False,
        tags=["graphql"],
    )
