"""The metrics' query fields."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.inputs import lookup_id
from salesgraph.graphql.permissions import CanRead
from salesgraph.metrics.scope import Reentry
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
        scope = make_scope(info.context.principal.workspace_id, _id(pipeline_id), window, filter)
        if await info.context.loaders.pipeline_by_id.load(scope.pipeline_id) is None:
            return None
        return PipelineMetrics(scope=scope)

    @strawberry.field(
        description="The sales process map of a pipeline over a window: for each stage in "
        "order, its funnel metrics and the work done in it; null when the pipeline does not "
        "exist in the workspace.",
        permission_classes=[CanRead],
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
        scope = make_scope(info.context.principal.workspace_id, _id(pipeline_id), window, filter)
        if await info.context.loaders.pipeline_by_id.load(scope.pipeline_id) is None:
            return None
        return await process_map(info, scope, reentry)


def _id(value: strawberry.ID) -> uuid.UUID:
    """A malformed pipeline id names nothing: the nil UUID, which no pipeline has."""
    return lookup_id(value) or uuid.UUID(int=0)
