"""The schema: the domains' query and mutation fields merged into one, with its limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from salesgraph.activities.schema import ActivityMutation, ActivityQuery
from salesgraph.graphql.cost import QueryCost
from salesgraph.graphql.errors import MaskUnexpectedErrors
from salesgraph.graphql.limits import (
    ParseWithinLimits,
    QueryLimits,
    ValidateWithinLimits,
    limit_rules,
)
from salesgraph.graphql.ratelimit import RateLimiter
from salesgraph.graphql.scalars import SCALAR_MAP
from salesgraph.handoffs.schema import HandoffMutation, HandoffQuery
from salesgraph.leads.schema import LeadMutation, LeadQuery
from salesgraph.metrics.schema import MetricsQuery
from salesgraph.objections.schema import ObjectionMutation, ObjectionQuery
from salesgraph.pipelines.schema import PipelineMutation, PipelineQuery
from salesgraph.workspaces.schema import WorkspaceMutation, WorkspaceQuery

Query = merge_types(
    "Query",
    (
        WorkspaceQuery,
        PipelineQuery,
        LeadQuery,
        ActivityQuery,
        ObjectionQuery,
        HandoffQuery,
        MetricsQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        WorkspaceMutation,
        PipelineMutation,
        LeadMutation,
        ActivityMutation,
        ObjectionMutation,
        HandoffMutation,
    ),
)

Query.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Everything a caller can read. Lists are Relay connections with keyset cursors."
)
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Everything a caller can change. Each mutation runs in one transaction and reports "
    "expected failures in its payload's errors."
)


VALIDATION_CACHE_SIZE = 512
DEFAULT_LIMITS = QueryLimits()


def build_schema(
    limits: QueryLimits = DEFAULT_LIMITS, *, rate_limiter: RateLimiter | None = None
) -> strawberry.Schema:
    """The schema with its limits: checked in the order parse (size, tokens), validation
    (depth, aliases, directives, page sizes, introspection), cost, rate limit.

    The rate limiter is made here, once per schema (so once per process and app), from
    `limits.rate_limit_points_per_minute`, unless one is given (tests give one with a clock).
    """
    limiter = rate_limiter
    if limiter is None:
        limiter = RateLimiter(limits.rate_limit_points_per_minute)
    # The rules are classes made once here: the validation cache is keyed by the rules, so
    # rules made anew for every request would make every request miss it.
    rules = limit_rules(limits)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALAR_MAP),
        extensions=[
            # Factories: each request gets its own instances; caches and buckets are shared.
            # MaskUnexpectedErrors comes first, so it codes the errors of all the others.
            lambda: MaskUnexpectedErrors(suggestions=limits.introspection),
            lambda: ParseWithinLimits(limits),
            lambda: ValidateWithinLimits(rules),
            lambda: ValidationCache(maxsize=VALIDATION_CACHE_SIZE),
            lambda: QueryCost(limits, limiter),
        ],
    )


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"


__all__ = ["QueryLimits", "build_schema", "export_sdl", "schema"]
