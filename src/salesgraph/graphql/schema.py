"""The schema: the domains' query and mutation fields merged into one."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from salesgraph.activities.schema import ActivityMutation, ActivityQuery
from salesgraph.graphql.errors import MaskUnexpectedErrors
from salesgraph.graphql.scalars import SCALAR_MAP
from salesgraph.handoffs.schema import HandoffMutation, HandoffQuery
from salesgraph.leads.schema import LeadMutation, LeadQuery
from salesgraph.objections.schema import ObjectionMutation, ObjectionQuery
from salesgraph.pipelines.schema import PipelineMutation, PipelineQuery
from salesgraph.workspaces.schema import WorkspaceMutation, WorkspaceQuery

Query = merge_types(
    "Query", (WorkspaceQuery, PipelineQuery, LeadQuery, ActivityQuery, ObjectionQuery, HandoffQuery)
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


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds checked before a query runs (introspection fields do not count for depth)."""

    max_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 3000


def build_schema(limits: QueryLimits = QueryLimits()) -> strawberry.Schema:
    # The limit rules are classes made once here: the validation cache is keyed by the rules,
    # so rules made anew for every request would make every request miss it.
    limit_rules = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALAR_MAP),
        extensions=[
            MaskUnexpectedErrors,
            # Factories: the caches themselves live at module level, shared by all requests.
            lambda: ParserCache(maxsize=512),
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: AddValidationRules(limit_rules),
            lambda: ValidationCache(maxsize=512),
        ],
    )


schema = build_schema()


def export_sdl() -> str:
    return schema.as_str() + "\n"
