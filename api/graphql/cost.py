"""The cost of a GraphQL document, computed before it runs.

Cost is the number of fields the document may resolve: every field counts 1 each time it can be resolved,
and a field with a ``first`` argument (a page of a connection) multiplies everything inside it by that
page size (the argument's value, its variable's, or its default). Fields that read one object at a time
rather than a batch (a trace, a payee's breakdowns, a fund's flow) count more. Fragments count where they
are spread; a fragment that spreads itself is refused by validation before this runs, and skipped here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

# fields answered one object at a time (the DataLoader still deduplicates them)
WEIGHTS = {
    "downstream": 50,
    "upstream": 20,
    "flow": 50,
    "years": 20,
    "byYear": 10,
    "byRegion": 10,
    "byAgency": 10,
    "warningStats": 10,  # an aggregate over the ledger
    "warningEscalations": 10,
}
TOTAL_COUNT = 5  # a count query per connection (batched for nested payments)


class CostLimit(SchemaExtension):
    def __init__(self, *, budget: int) -> None:
        self.budget = budget

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and ctx.result is None:
            cost = document_cost(ctx.schema._schema, document, ctx.operation_name, ctx.variables or {})
            over_budget = cost > self.budget
            if not over_budget and not ctx.context.charge(cost):
                ctx.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"rate limit: this operation's cost ({cost}) is more than what remains of the "
                            "caller's budget in this window",
                            extensions={"code": "RATE_LIMITED", "cost": cost},
                        )
                    ],
                )
            if over_budget:
                ctx.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"query cost {cost} exceeds the budget of {self.budget}: ask for smaller pages "
                            "(first) or fewer nested lists",
                            extensions={"code": "COST_LIMIT", "cost": cost, "budget": self.budget},
                        )
                    ],
                )
        yield


def document_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _selection_cost(schema, root, operation.selection_set, fragments, variables, 1, frozenset())


def _selection_cost(
    schema: GraphQLSchema,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    times: int,
    spreading: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            cost += _field_cost(schema, parent, selection, fragments, variables, times, spreading)
        elif isinstance(selection, InlineFragmentNode):
            on = parent
            if selection.type_condition is not None:
                named = schema.get_type(selection.type_condition.name.value)
                on = named if isinstance(named, GraphQLObjectType | GraphQLInterfaceType) else parent
            cost += _selection_cost(
                schema, on, selection.selection_set, fragments, variables, times, spreading
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spreading:
                continue
            named = schema.get_type(fragment.type_condition.name.value)
            on = named if isinstance(named, GraphQLObjectType | GraphQLInterfaceType) else parent
            cost += _selection_cost(
                schema, on, fragment.selection_set, fragments, variables, times, spreading | {name}
            )
    return cost


def _field_cost(
    schema: GraphQLSchema,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    node: FieldNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    times: int,
    spreading: frozenset[str],
) -> int:
    name = node.name.value
    if name.startswith("__"):
        return 0  # introspection: allowed only where the setting turns it on
    definition = parent.fields.get(name)
    if definition is None:
        return times  # validation reports it
    weight = TOTAL_COUNT if name == "totalCount" else WEIGHTS.get(name, 1)
    cost = times * weight
    inner = times
    if "first" in definition.args:
        inner = times * max(1, _page_size(node, definition.args["first"].default_value, variables))
    named = get_named_type(definition.type)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        cost += _selection_cost(schema, named, node.selection_set, fragments, variables, inner, spreading)
    return cost


def _page_size(node: FieldNode, default: Any, variables: dict[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value, default)
            return given if isinstance(given, int) and not isinstance(given, bool) else 1
    return default if isinstance(default, int) else 1


class Authorize(SchemaExtension):
    """Function-level authorisation of GraphQL: each root field of the operation must be open to the
    caller's body (``graphql:<field>`` in :data:`security.permissions.OPERATIONS`), else nothing runs."""

    def on_execute(self) -> Iterator[None]:
        from security.permissions import allowed

        ctx = self.execution_context
        document = ctx.graphql_document
        principal = getattr(ctx.context, "principal", None)
        body = principal.body if principal is not None else None
        if document is not None and ctx.result is None:
            refused = [
                f for f in root_fields(document, ctx.operation_name) if not allowed(f"graphql:{f}", body)
            ]
            if refused:
                ctx.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"a caller of the {body} body may not query {', '.join(sorted(set(refused)))}",
                            extensions={"code": "FORBIDDEN"},
                        )
                    ],
                )
        yield


def root_fields(document: Any, operation_name: str | None) -> list[str]:
    """The root fields an operation selects, through fragments (aliases resolved to field names)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    out: list[str] = []

    def walk(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                out.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, seen | {selection.name.value})

    for operation in operations[:1]:
        walk(operation.selection_set, frozenset())
    return out
