"""The estimated cost of a query, its limit, and the per-API-key rate limit it is charged to.

The estimate is static, over the validated document and its variables, before anything runs.
It approximates the most objects the operation can return:

- a scalar or enum field costs 0, and so do introspection fields (`__typename`, `__schema`,
  `__type`);
- an object field costs 1 plus the cost of its selection; a mutation field costs
  `mutation_cost` (10) plus the cost of its selection;
- a connection (a field paged with `first`/`last`) costs `size * (1 + cost of one item)`, where
  size is `first` or `last` (a literal or a variable; the larger if both) capped at the maximum
  page size, else the default page size; within the connection, `edges`, `node`, `nodes` and
  `pageInfo` add nothing of their own (the item is counted once by the connection);
- a plain list (pipelines, stages, members, a payload's errors, …) costs
  `list_size * (1 + cost of one item)`, with list_size assumed to be 10;
- a field that aggregates history (a metric: `metrics { funnel }`, `processMap`, …) adds
  `aggregate_cost` (100) for each aggregate statement it runs, the number its definition
  declares in its metadata under STATEMENTS; a metric statement reads a whole window of the
  pipeline's history, however few rows it returns;
- fragments and inline fragments count as if every one of them applied, and `@skip`/`@include`
  are ignored: the estimate is an upper bound.

A query costing more than `max_cost` is refused with one QUERY_TOO_COMPLEX error and nothing
runs. Otherwise the request's API key is charged the cost (at least 1 point) before execution;
requests refused earlier (syntax, validation, limits) and requests without a key (introspection
for GraphiQL's docs) are not charged. The response's `extensions.cost` is
`{"requested": cost, "maximum": max_cost, "limit": points per minute, "remaining": points left}`
(limit and remaining only when rate limiting is on); requests without a key get no
`extensions`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_composite_type,
    is_leaf_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension

from salesgraph.graphql.limits import QueryLimits, is_connection_field, too_complex
from salesgraph.graphql.ratelimit import RateLimiter, RateLimitState

RATE_LIMITED = "RATE_LIMITED"
# The metadata key of a field's number of aggregate statements: strawberry.field(metadata=...).
STATEMENTS = "statements"
_WRAPPERS_OF_CONNECTION = frozenset({"edges", "nodes", "pageInfo"})


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: QueryLimits,
) -> int:
    """The estimated cost of the operation the request runs (see the module's docstring)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    estimator = _Estimator(schema, document, operation, variables or {}, limits)
    return estimator.selection_set(operation.selection_set, root)


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        limits: QueryLimits,
    ):
        self.schema = schema
        self.limits = limits
        self.variables = variables
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self.fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        self._fragment_costs: dict[str, int] = {}
        self._visiting: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLCompositeType) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                typed = self.schema.get_type(condition.name.value) if condition else parent
                if is_composite_type(typed):
                    cost += self.selection_set(selection.selection_set, typed)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.fragment(selection.name.value)
        return cost

    def fragment(self, name: str) -> int:
        if name in self._fragment_costs:
            return self._fragment_costs[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._visiting:
            return 0
        typed = self.schema.get_type(fragment.type_condition.name.value)
        if not is_composite_type(typed):
            return 0
        self._visiting.add(name)
        try:
            cost = self.selection_set(fragment.selection_set, typed)
        finally:
            self._visiting.discard(name)
        self._fragment_costs[name] = cost
        return cost

    def field(self, node: FieldNode, parent: GraphQLCompositeType) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        field = parent.fields.get(name)
        if field is None or node.selection_set is None:
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named) or not is_composite_type(named):
            return 0
        item = self.selection_set(node.selection_set, named)
        # Aggregates run once for the field, whatever the length of what it returns.
        return self.aggregates(field) + self.objects(node, field, parent, item)

    def objects(
        self,
        node: FieldNode,
        field: GraphQLField,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        item: int,
    ) -> int:
        """The cost of the objects the field returns, each costing `item` beyond itself."""
        if _is_wrapper(parent, node.name.value):
            return item
        if is_connection_field(field.args):
            return self.page_size(node, field) * (1 + item)
        if is_list_type(get_nullable_type(field.type)):
            return self.limits.list_size * (1 + item)
        if parent is self.schema.mutation_type:
            return self.limits.mutation_cost + item
        return 1 + item

    def aggregates(self, field: GraphQLField) -> int:
        definition = field.extensions.get("strawberry-definition")
        metadata = getattr(definition, "metadata", None) or {}
        return int(metadata.get(STATEMENTS, 0)) * self.limits.aggregate_cost

    def page_size(self, node: FieldNode, field: GraphQLField) -> int:
        sizes = [
            size
            for argument in node.arguments or ()
            if argument.name.value in ("first", "last")
            and (size := self.integer(argument.value)) is not None
        ]
        size = max(sizes) if sizes else self.limits.page_size_default
        # A size beyond the maximum is refused when the field runs; until then, count the most.
        return min(max(size, 0), self.limits.page_size_max)

    def integer(self, value: ValueNode | None) -> int | None:
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self.variables:
                given = self.variables[name]
                if type(given) is int:
                    return given
                # GraphQL coerces 100.0 to the Int 100; anything else given is counted as the
                # largest page, so that no spelling of a size costs less than it reads.
                if isinstance(given, float) and given.is_integer():
                    return int(given)
                return None if given is None else self.limits.page_size_max
            return self.integer(self.defaults.get(name))
        if isinstance(value, IntValueNode):
            return int(value.value)
        return None


def _is_wrapper(parent: GraphQLObjectType | GraphQLInterfaceType, name: str) -> bool:
    """A connection's edges/nodes/pageInfo or an edge's node: the item the connection counts."""
    fields = parent.fields
    if name in _WRAPPERS_OF_CONNECTION:
        return "edges" in fields and "pageInfo" in fields
    return name == "node" and "cursor" in fields


def rate_limited(cost: int, state: RateLimitState) -> GraphQLError:
    return GraphQLError(
        f"Rate limit exceeded: this query costs {cost} points and {state.remaining} of the "
        f"{state.limit} points per minute are left; retry in {state.retry_after} s.",
        extensions={
            "code": RATE_LIMITED,
            "cost": cost,
            "limit": state.limit,
            "remaining": state.remaining,
            "retryAfter": state.retry_after,
        },
    )


def _api_key(context: Any) -> uuid.UUID | None:
    principal = getattr(context, "principal_or_none", None)
    key = getattr(principal, "api_key_id", None)
    return key if isinstance(key, uuid.UUID) else None


class QueryCost(SchemaExtension):
    """Refuses queries over the cost limit, charges the caller's API key, reports the cost in
    `extensions.cost` and the key's budget in RateLimit-* headers (HTTP 429 when refused)."""

    def __init__(self, limits: QueryLimits, limiter: RateLimiter | None):
        self.limits = limits
        self.limiter = limiter if limiter is not None and limiter.enabled else None
        self.cost: int | None = None
        self.state: RateLimitState | None = None

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._set_headers()

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            refusal = self._check()
            if refusal is not None:
                # Setting the result before execution skips it: nothing runs.
                context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def get_results(self) -> dict[str, Any]:
        key = _api_key(self.execution_context.context)
        if self.cost is None or key is None:
            return {}
        cost: dict[str, Any] = {"requested": self.cost, "maximum": self.limits.max_cost}
        if self.limiter is not None:
            state = self.state if self.state is not None else self.limiter.peek(key)
            cost["limit"] = state.limit
            cost["remaining"] = state.remaining
        return {"cost": cost}

    def _check(self) -> GraphQLError | None:
        context = self.execution_context
        assert context.graphql_document is not None
        cost = estimate_cost(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables,
            self.limits,
        )
        self.cost = cost
        if cost > self.limits.max_cost:
            return too_complex(
                "cost",
                cost,
                self.limits.max_cost,
                f"The query's estimated cost is {cost} points; the maximum is "
                f"{self.limits.max_cost}. Ask for smaller pages (first/last) or fewer nested "
                "lists.",
            )
        key = _api_key(context.context)
        if self.limiter is None or key is None:
            return None
        self.state = self.limiter.charge(key, cost)
        if self.state.allowed:
            return None
        response = getattr(context.context, "response", None)
        if response is not None:
            response.status_code = 429
        return rate_limited(max(cost, 1), self.state)

    def _set_headers(self) -> None:
        context = self.execution_context.context
        response = getattr(context, "response", None)
        key = _api_key(context)
        if self.limiter is None or key is None or response is None:
            return
        state = self.state if self.state is not None else self.limiter.peek(key)
        for name, value in state.headers().items():
            response.headers[name] = value
