"""The metrics' query fields."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.cost import STATEMENTS
from salesgraph.graphql.inputs import lookup_id
from salesgraph.graphql.permissions import CanRead
from salesgraph.metrics.scope import MetricScope, Reentry
from salesgraph.metrics.types import (
    MetricFilterInput,
    MetricWindowInput,
    PipelineMetrics,
    ProcessMap,
    make_scope,
    process_map,
)

PIPELINE = strawberry.argument(description="The pipeline measured.")
WINDOW = strawberry.argument(description="The time window [from, to).")
FILTER = strawberry.argument(description="Which leads count; all of the pipeline's by default.")


@strawberry.type
class MetricsQuery:
    @strawberry.field(
        description="A pipeline's metrics over a window, as defined in each field's "
        "description; null when the pipeline does not exist in the workspace.",
        permission_classes=[CanRead],
    )
    async def metrics(
        self,
        info: Info,
        pipeline_id: Annotated[strawberry.ID, PIPELINE],
        window: Annotated[MetricWindowInput, WINDOW],
        filter: Annotated[MetricFilterInput | None, FILTER] = None,
    ) -> PipelineMetrics | None:
        scope = await _scope(info, pipeline_id, window, filter)
        return PipelineMetrics(scope=scope) if scope is not None else None

    @strawberry.field(
        description="The sales process map of a pipeline over a window: for each stage in "
        "order, its funnel metrics and the work done in it; null when the pipeline does not "
        "exist in the workspace.",
        permission_classes=[CanRead],
        # the funnel and the stages' states, activities, techniques and objections
        metadata={STATEMENTS: 5},
    )
    async def process_map(
        self,
        info: Info,
        pipeline_id: Annotated[strawberry.ID, PIPELINE],
        window: Annotated[MetricWindowInput, WINDOW],
        filter: Annotated[MetricFilterInput | None, FILTER] = None,
        reentry: Annotated[
            Reentry, strawberry.argument(description="How re-entries count in the funnel.")
        ] = Reentry.FIRST_ENTRY,
    ) -> ProcessMap | None:
        scope = await _scope(info, pipeline_id, window, filter)
        return await process_map(info, scope, reentry) if scope is not None else None


async def _scope(
    info: Info,
    pipeline_id: strawberry.ID,
    window: MetricWindowInput,
    filter: MetricFilterInput | None,
) -> MetricScope | None:
    """The request's scope; None when the pipeline is not the workspace's (a malformed id
    names nothing, exactly like an unknown one). A bad window is refused either way."""
    pipeline = lookup_id(pipeline_id) or uuid.UUID(int=0)
    scope = make_scope(info.context.principal.workspace_id, pipeline, window, filter)
    if await info.context.loaders.pipeline_by_id.load(pipeline) is None:
        return None
    return scope
