"""GraphQL types, inputs and payloads of the pipeline domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError
from salesgraph.graphql.pagination import After, Before, First, Last
from salesgraph.pipelines import models

if TYPE_CHECKING:
    from salesgraph.leads.types import LeadConnection, LeadFilter, LeadOrder

# The lead domain's types, resolved lazily: leads refer to stages and stages to leads.
LazyLeadConnection = Annotated["LeadConnection", strawberry.lazy("salesgraph.leads.types")]
LazyLeadFilter = Annotated["LeadFilter", strawberry.lazy("salesgraph.leads.types")]
LazyLeadOrder = Annotated["LeadOrder", strawberry.lazy("salesgraph.leads.types")]

PipelineTemplate = graphql_enum(
    models.PipelineTemplate,
    name="PipelineTemplate",
    description="Where a pipeline's stages came from.",
    values={
        "SEVEN_STAGE": "The textbook sales process: prospecting, preparation & research, needs "
        "assessment, presentation, objection handling, closing, follow-up.",
        "FIVE_STAGE": "A short process: prospecting, needs assessment, presentation, closing, "
        "follow-up.",
        "NINE_STAGE": "A long process: prospecting, qualification, preparation & research, needs "
        "assessment, presentation, proposal, objection handling, closing, follow-up.",
        "CUSTOM": "Stages of the workspace's own.",
    },
)


@strawberry.type(description="A repeatable, measurable template of stages that leads move through.")
class Pipeline:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    name: str = strawberry.field(description="Display name.")
    template: models.PipelineTemplate = strawberry.field(
        description="The template the stages came from (CUSTOM for a list of one's own)."
    )
    version: int = strawberry.field(
        description="Increases with every change to the pipeline or its stages' order; pass it "
        "as expectedVersion to refuse a change made on stale data."
    )
    archived_at: datetime | None = strawberry.field(description="When it was archived.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @strawberry.field(description="Stages in board order (archived ones last, when included).")
    async def stages(
        self,
        info: Info,
        include_archived: Annotated[
            bool, strawberry.argument(description="Include archived stages.")
        ] = False,
    ) -> list[Stage]:
        rows = await info.context.loaders.stages_by_pipeline_id.load(
            (uuid.UUID(self.id), include_archived)
        )
        return [Stage.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: models.Pipeline) -> Pipeline:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            template=row.template,
            version=row.version,
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="One step of a pipeline, such as prospecting or closing.")
class Stage:
    id: strawberry.ID = strawberry.field(description="Unique id; history refers to it forever.")
    name: str = strawberry.field(description="Display name, unique among active stages.")
    position: int = strawberry.field(
        description="1-based place in the pipeline; moving to a higher position is forward."
    )
    win_probability: float = strawberry.field(
        description="Chance in [0, 1] that a lead at this stage is won; weights the forecast."
    )
    target_days: int | None = strawberry.field(
        description="Days a lead may stay before it counts as stalled; null for no target."
    )
    archived_at: datetime | None = strawberry.field(
        description="When it was archived; archived stages take no new leads."
    )
    version: int = strawberry.field(description="Increases with every change to the stage.")
    pipeline_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The pipeline the stage belongs to.")
    async def pipeline(self, info: Info) -> Pipeline:
        row = await info.context.loaders.pipeline_by_id.load(self.pipeline_id)
        assert row is not None  # a stage's pipeline exists (foreign key)
        return Pipeline.from_model(row)

    @strawberry.field(
        description="A board column: the open leads at this stage, newest first. With "
        "includeClosed, also the leads won or lost while at it."
    )
    async def leads(
        self,
        info: Info,
        include_closed: Annotated[
            bool,
            strawberry.argument(description="Also list leads won or lost at this stage."),
        ] = False,
        filter: Annotated[
            LazyLeadFilter | None, strawberry.argument(description="Only leads that match.")
        ] = None,
        order_by: Annotated[
            list[LazyLeadOrder] | None,
            strawberry.argument(description="Sort keys (1 to 3); ties end in id order."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> LazyLeadConnection:
        from salesgraph.leads.types import stage_leads

        return await stage_leads(
            info, uuid.UUID(self.id), filter, order_by, first, after, last, before, include_closed
        )

    @classmethod
    def from_model(cls, row: models.Stage) -> Stage:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            position=row.position,
            win_probability=float(row.win_probability),
            target_days=row.target_days,
            archived_at=row.archived_at,
            version=row.version,
            pipeline_id=row.pipeline_id,
        )


@strawberry.input(description="A stage of a custom pipeline.")
class StageInput:
    name: str = strawberry.field(description="Display name, unique in the pipeline.")
    win_probability: float = strawberry.field(description="Chance in [0, 1] of winning from here.")
    target_days: int | None = strawberry.field(
        default=None, description="Days before a lead here counts as stalled."
    )


@strawberry.input(description="A new pipeline: from a template, or from a list of stages.")
class CreatePipelineInput:
    name: str = strawberry.field(description="Display name.")
    template: models.PipelineTemplate | None = strawberry.field(
        default=None,
        description="Stage template; SEVEN_STAGE when neither this nor stages is given.",
    )
    stages: list[StageInput] | None = strawberry.field(
        default=None, description="The stages of a custom pipeline, in order."
    )


@strawberry.input(description="A new name for a pipeline.")
class RenamePipelineInput:
    id: strawberry.ID = strawberry.field(description="The pipeline.")
    name: str = strawberry.field(description="The new name.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the pipeline is at this version."
    )


@strawberry.input(description="A stage to add to a pipeline.")
class AddStageInput:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline.")
    name: str = strawberry.field(description="Display name, unique among active stages.")
    win_probability: float = strawberry.field(description="Chance in [0, 1] of winning from here.")
    target_days: int | None = strawberry.field(
        default=None, description="Days before a lead here counts as stalled."
    )
    position: int | None = strawberry.field(
        default=None, description="1-based place among active stages; at the end when omitted."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the pipeline is at this version."
    )


@strawberry.input(description="Changes to a stage; omitted fields stay as they are.")
class UpdateStageInput:
    id: strawberry.ID = strawberry.field(description="The stage.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    win_probability: float | None = strawberry.field(
        default=strawberry.UNSET, description="New win probability in [0, 1]."
    )
    target_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="New target days; null removes the target."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the stage is at this version."
    )


@strawberry.input(description="A new order for a pipeline's active stages.")
class ReorderStagesInput:
    pipeline_id: strawberry.ID = strawberry.field(description="The pipeline.")
    stage_ids: list[strawberry.ID] = strawberry.field(
        description="Every active stage of the pipeline, once each, in the new order."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the pipeline is at this version."
    )


@strawberry.input(description="A stage to archive, and where its open leads go.")
class ArchiveStageInput:
    id: strawberry.ID = strawberry.field(description="The stage.")
    move_open_leads_to: strawberry.ID | None = strawberry.field(
        default=None,
        description="Active stage of the same pipeline that receives the stage's open leads; "
        "required when it has any.",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the stage is at this version."
    )


@strawberry.type(description="Result of a pipeline mutation.")
class PipelinePayload:
    pipeline: Pipeline | None = strawberry.field(description="The pipeline; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(description="Result of a stage mutation.")
class StagePayload:
    stage: Stage | None = strawberry.field(description="The stage; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")
