"""Bounds on a GraphQL document, checked before anything runs.

The parse step (ParseWithinLimits) refuses documents longer than `max_bytes` or with more than
`max_tokens` tokens; validation rules (limit_rules) refuse documents deeper than `max_depth`,
with more than `max_aliases` aliases or `max_directives` directives, a literal page size outside
0..page_size_max, introspection nested too deeply, and `__schema`/`__type` when introspection
is off. The estimated cost is checked in salesgraph.graphql.cost, once variables are known.

Every refusal is one error with `extensions.code = "QUERY_TOO_COMPLEX"`, `limit` naming the
limit, the measured value under the limit's name and `maximum`, e.g.
`{"code": "QUERY_TOO_COMPLEX", "limit": "depth", "depth": 14, "maximum": 12}`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    visit,
)
from graphql.language import SKIP, Lexer, Source, TokenKind, VisitorAction
from graphql.validation import ASTValidationRule, MaxIntrospectionDepthRule, ValidationRule
from strawberry.extensions import SchemaExtension

from salesgraph.settings import Settings

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# The introspection list nesting graphql-core's MaxIntrospectionDepthRule allows.
MAX_INTROSPECTION_DEPTH = 3
PARSE_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds and policies checked before a query runs.

    `list_size` is the length assumed for plain lists (pipelines, stages, members, …) in the
    cost estimate, and `mutation_cost` the cost of each mutation field before what it selects.
    `rate_limit_points_per_minute` is each API key's budget of cost points (0: no rate limit).
    `aggregate_cost` is what each aggregate statement a field runs over a window's history
    adds to the estimate (metric fields, STATEMENTS in their metadata).
    """

    max_bytes: int = 100_000
    max_tokens: int = 3000
    max_depth: int = 12
    max_aliases: int = 20
    max_directives: int = 50
    max_cost: int = 20_000
    page_size_default: int = 20
    page_size_max: int = 100
    list_size: int = 10
    mutation_cost: int = 10
    aggregate_cost: int = 100
    introspection: bool = True
    rate_limit_points_per_minute: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(
            max_bytes=settings.query_max_bytes,
            max_tokens=settings.query_max_tokens,
            max_depth=settings.query_max_depth,
            max_aliases=settings.query_max_aliases,
            max_directives=settings.query_max_directives,
            max_cost=settings.query_max_cost,
            page_size_default=settings.page_size_default,
            page_size_max=settings.page_size_max,
            introspection=settings.introspection,
            rate_limit_points_per_minute=settings.rate_limit_points_per_minute,
        )


def too_complex(
    limit: str,
    value: int | None,
    maximum: int,
    message: str,
    nodes: Node | list[Node] | None = None,
) -> GraphQLError:
    """The one error of a query refused by a limit, naming the limit and the numbers."""
    extensions: dict[str, Any] = {"code": QUERY_TOO_COMPLEX, "limit": limit}
    if value is not None:
        extensions[limit] = value
    extensions["maximum"] = maximum
    return GraphQLError(message, nodes, extensions=extensions)


# Parsing


def parse_within_limits(query: str, limits: QueryLimits) -> DocumentNode:
    """The parsed document; raises a coded GraphQLError for a refused or malformed one."""
    length = len(query.encode())
    if length > limits.max_bytes:
        raise too_complex(
            "bytes",
            length,
            limits.max_bytes,
            f"The query is {length} bytes long; the maximum is {limits.max_bytes}.",
        )
    try:
        return _parse(query, limits.max_tokens)
    except GraphQLSyntaxError as error:
        raise _coded_syntax_error(error, query, limits) from None


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    # Failures are not cached (lru_cache caches returns only); they are bounded by the limits.
    return parse(query, max_lexical_tokens=max_tokens)


def _coded_syntax_error(error: GraphQLSyntaxError, query: str, limits: QueryLimits) -> GraphQLError:
    tokens = _count_tokens(query)
    if tokens > limits.max_tokens:
        return too_complex(
            "tokens",
            tokens,
            limits.max_tokens,
            f"The query has {tokens} tokens; the maximum is {limits.max_tokens}.",
        )
    if "nested too deeply" in error.message:
        return too_complex(
            "depth",
            None,
            limits.max_depth,
            f"The query is nested too deeply to parse; the maximum depth is {limits.max_depth}.",
        )
    return GraphQLError(
        error.message,
        source=error.source,
        positions=error.positions,
        extensions={"code": PARSE_FAILED},
    )


def _count_tokens(query: str) -> int:
    """Lexical tokens (comments excluded), up to the first lexical error."""
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind != TokenKind.EOF:
            count += 1
    except GraphQLError:
        pass
    return count


def parse_cache_info() -> Any:
    """Hits and misses of the parse cache (functools' cache_info)."""
    return _parse.cache_info()


class ParseWithinLimits(SchemaExtension):
    """Parses through a process-wide cache, refusing documents that are too long."""

    def __init__(self, limits: QueryLimits):
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        # A refusal raised here ends the request before validation; strawberry turns the
        # GraphQLError into the response's one error.
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            context.graphql_document = parse_within_limits(context.query, self.limits)
        yield


# Validation


@dataclass(frozen=True, slots=True)
class DocumentMeasures:
    depth: int
    aliases: int
    directives: int


def measure(document: DocumentNode) -> DocumentMeasures:
    """Depth (field levels, leaves included, introspection fields excluded) of the deepest
    operation, aliases of all operations with fragments expanded, and directives written."""
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    operations = [
        node for node in document.definitions if isinstance(node, OperationDefinitionNode)
    ]
    walker = _Walker(fragments)
    depth = max((walker.depth(op.selection_set) for op in operations), default=0)
    aliases = sum(walker.aliases(op.selection_set) for op in operations)
    return DocumentMeasures(depth=depth, aliases=aliases, directives=_count_directives(document))


class _Walker:
    """Measures selection sets, visiting each fragment once (memoized; cycles count 0 —
    validation refuses them anyway)."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]):
        self.fragments = fragments
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._visiting: set[str] = set()

    def _fragment(self, name: str, memo: dict[str, int], measure: Any) -> int:
        if name in memo:
            return memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._visiting:
            return 0
        self._visiting.add(name)
        try:
            value: int = measure(fragment.selection_set)
        finally:
            self._visiting.discard(name)
        memo[name] = value
        return value

    def depth(self, selection_set: SelectionSetNode) -> int:
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                below = self.depth(selection.selection_set) if selection.selection_set else 0
                deepest = max(deepest, 1 + below)
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(
                    deepest, self._fragment(selection.name.value, self._depths, self.depth)
                )
        return deepest

    def aliases(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.alias is not None
                if selection.selection_set:
                    count += self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, self._aliases, self.aliases)
        return count


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_directive(self, *_args: Any) -> None:
        self.count += 1


def _count_directives(document: DocumentNode) -> int:
    counter = _DirectiveCounter()
    visit(document, counter)
    return counter.count


def _document_limits_rule(limits: QueryLimits) -> type[ASTValidationRule]:
    class DocumentLimits(ASTValidationRule):
        """Refuses a document over the depth, alias or directive limit (the first one hit)."""

        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            measured = measure(node)
            if measured.depth > limits.max_depth:
                self.report_error(
                    too_complex(
                        "depth",
                        measured.depth,
                        limits.max_depth,
                        f"The query is {measured.depth} levels deep; "
                        f"the maximum is {limits.max_depth}.",
                    )
                )
            elif measured.aliases > limits.max_aliases:
                self.report_error(
                    too_complex(
                        "aliases",
                        measured.aliases,
                        limits.max_aliases,
                        f"The query uses {measured.aliases} aliases; "
                        f"the maximum is {limits.max_aliases}.",
                    )
                )
            elif measured.directives > limits.max_directives:
                self.report_error(
                    too_complex(
                        "directives",
                        measured.directives,
                        limits.max_directives,
                        f"The query uses {measured.directives} directives; "
                        f"the maximum is {limits.max_directives}.",
                    )
                )
            return SKIP

    return DocumentLimits


def _page_size_rule(limits: QueryLimits) -> type[ASTValidationRule]:
    class PageSizes(ValidationRule):
        """Refuses a page size written in the query outside 0..page_size_max (a variable's
        value is checked when the field runs, with the same error)."""

        def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
            name = node.name.value
            if name not in ("first", "last") or not isinstance(node.value, IntValueNode):
                return
            field = self.context.get_field_def()
            if field is None or not is_connection_field(field.args):
                return
            if not 0 <= int(node.value.value) <= limits.page_size_max:
                self.report_error(
                    GraphQLError(
                        f"{name} must be between 0 and {limits.page_size_max}",
                        node,
                        extensions={
                            "code": "BAD_USER_INPUT",
                            "reason": "VALIDATION",
                            "field": [name],
                        },
                    )
                )

    return PageSizes


def is_connection_field(arguments: Any) -> bool:
    """A field paged with first/last (a Relay connection)."""
    return "first" in arguments or "last" in arguments


class IntrospectionDepth(MaxIntrospectionDepthRule):
    """graphql-core's bound on nested introspection lists (`fields { type { fields … } }`),
    with a coded error."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            too_complex(
                "introspectionDepth",
                None,
                MAX_INTROSPECTION_DEPTH,
                "The introspection query nests lists of fields, interfaces or types more than "
                f"{MAX_INTROSPECTION_DEPTH} levels deep.",
                error.nodes,
            )
        )


class NoIntrospection(ValidationRule):
    """Refuses `__schema` and `__type` (`__typename` stays allowed)."""

    def enter_field(self, node: FieldNode, *_args: Any) -> VisitorAction:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    f"Introspection is turned off on this server ('{node.name.value}').",
                    node,
                    extensions={"code": VALIDATION_FAILED, "reason": "INTROSPECTION_DISABLED"},
                )
            )
            return SKIP
        return None


def limit_rules(limits: QueryLimits) -> list[type[ASTValidationRule]]:
    """The validation rules of the limits. Make them once per schema: the validation cache is
    keyed by the rules, so rules made anew for every request would miss it every time."""
    rules: list[type[ASTValidationRule]] = [
        _document_limits_rule(limits),
        _page_size_rule(limits),
        IntrospectionDepth,
    ]
    if not limits.introspection:
        rules.append(NoIntrospection)
    return rules


class ValidateWithinLimits(SchemaExtension):
    """Adds the limit rules to graphql's, in place of its uncoded MaxIntrospectionDepthRule."""

    def __init__(self, rules: list[type[ASTValidationRule]]):
        self.rules = tuple(rules)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (
            *(rule for rule in context.validation_rules if rule is not MaxIntrospectionDepthRule),
            *self.rules,
        )
        yield
