"""Query and mutation fields of the pipeline domain: short resolvers that call the service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from salesgraph.graphql.context import Info
from salesgraph.graphql.inputs import (
    INPUT,
    given,
    given_probability,
    lookup_id,
    maybe_id,
    not_null,
    parse_id,
    payload_parts,
    probability,
    run_mutation,
)
from salesgraph.graphql.permissions import CanRead, IsAdmin
from salesgraph.pipelines import repository
from salesgraph.pipelines import service as pipeline_service
from salesgraph.pipelines.types import (
    AddStageInput,
    ArchiveStageInput,
    CreatePipelineInput,
    Pipeline,
    PipelinePayload,
    RenamePipelineInput,
    ReorderStagesInput,
    Stage,
    StagePayload,
    UpdateStageInput,
)


@strawberry.type
class PipelineQuery:
    @strawberry.field(
        description="The workspace's pipelines, oldest first.", permission_classes=[CanRead]
    )
    async def pipelines(
        self,
        info: Info,
        include_archived: Annotated[
            bool, strawberry.argument(description="Include archived pipelines.")
        ] = False,
    ) -> list[Pipeline]:
        async with info.context.read_session() as session:
            rows = await repository.list_pipelines(session, include_archived=include_archived)
        return [Pipeline.from_model(row) for row in rows]

    @strawberry.field(
        description="A pipeline by id; null when it does not exist in the workspace.",
        permission_classes=[CanRead],
    )
    async def pipeline(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> Pipeline | None:
        pipeline_id = lookup_id(id)
        if pipeline_id is None:
            return None
        row = await info.context.loaders.pipeline_by_id.load(pipeline_id)
        return Pipeline.from_model(row) if row is not None else None

    @strawberry.field(
        description="A stage by id; null when it does not exist in the workspace.",
        permission_classes=[CanRead],
    )
    async def stage(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> Stage | None:
        stage_id = lookup_id(id)
        if stage_id is None:
            return None
        row = await info.context.loaders.stage_by_id.load(stage_id)
        return Stage.from_model(row) if row is not None else None


def _pipeline_payload(result: object) -> PipelinePayload:
    pipeline, errors = payload_parts(result, Pipeline.from_model)
    return PipelinePayload(pipeline=pipeline, errors=errors)


def _stage_payload(result: object) -> StagePayload:
    stage, errors = payload_parts(result, Stage.from_model)
    return StagePayload(stage=stage, errors=errors)


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(
        description="Create a pipeline from a template (SEVEN_STAGE by default) or a stage list.",
        permission_classes=[IsAdmin],
    )
    async def create_pipeline(
        self,
        info: Info,
        input: Annotated[CreatePipelineInput, INPUT],
    ) -> PipelinePayload:
        stages = (
            [
                pipeline_service.StageInput(s.name, probability(s.win_probability), s.target_days)
                for s in input.stages
            ]
            if input.stages is not None
            else None
        )
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.create_pipeline(
                session,
                workspace_id=principal.workspace_id,
                actor=principal.actor,
                name=input.name,
                template=input.template,
                stages=stages,
            ),
        )
        return _pipeline_payload(result)

    @strawberry.mutation(description="Rename a pipeline.", permission_classes=[IsAdmin])
    async def rename_pipeline(
        self,
        info: Info,
        input: Annotated[RenamePipelineInput, INPUT],
    ) -> PipelinePayload:
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.rename_pipeline(
                session,
                actor=principal.actor,
                pipeline_id=parse_id(input.id, "id"),
                name=input.name,
                expected_version=input.expected_version,
            ),
        )
        return _pipeline_payload(result)

    @strawberry.mutation(
        description="Add a stage to a pipeline, at a position or at the end.",
        permission_classes=[IsAdmin],
    )
    async def add_stage(self, info: Info, input: Annotated[AddStageInput, INPUT]) -> StagePayload:
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.add_stage(
                session,
                actor=principal.actor,
                pipeline_id=parse_id(input.pipeline_id, "pipelineId"),
                name=input.name,
                win_probability=probability(input.win_probability),
                target_days=input.target_days,
                position=input.position,
                expected_version=input.expected_version,
            ),
        )
        return _stage_payload(result)

    @strawberry.mutation(
        description="Rename a stage or change its win probability or target days.",
        permission_classes=[IsAdmin],
    )
    async def update_stage(
        self, info: Info, input: Annotated[UpdateStageInput, INPUT]
    ) -> StagePayload:
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.update_stage(
                session,
                actor=principal.actor,
                stage_id=parse_id(input.id, "id"),
                name=not_null(given(input.name), "name"),
                win_probability=given_probability(input.win_probability, "winProbability"),
                target_days=given(input.target_days),
                expected_version=input.expected_version,
            ),
        )
        return _stage_payload(result)

    @strawberry.mutation(
        description="Put a pipeline's active stages in a new order. History keeps the "
        "direction each move had when it was made.",
        permission_classes=[IsAdmin],
    )
    async def reorder_stages(
        self,
        info: Info,
        input: Annotated[ReorderStagesInput, INPUT],
    ) -> PipelinePayload:
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.reorder_stages(
                session,
                actor=principal.actor,
                pipeline_id=parse_id(input.pipeline_id, "pipelineId"),
                stage_ids=[
                    parse_id(stage_id, "stageIds", str(index))
                    for index, stage_id in enumerate(input.stage_ids)
                ],
                expected_version=input.expected_version,
            ),
        )
        return _pipeline_payload(result)

    @strawberry.mutation(
        description="Archive a stage. Its open leads move to moveOpenLeadsTo (recorded in "
        "their history); history and metrics keep referring to the archived stage.",
        permission_classes=[IsAdmin],
    )
    async def archive_stage(
        self,
        info: Info,
        input: Annotated[ArchiveStageInput, INPUT],
    ) -> StagePayload:
        result = await run_mutation(
            info,
            lambda session, principal: pipeline_service.archive_stage(
                session,
                actor=principal.actor,
                stage_id=parse_id(input.id, "id"),
                move_open_leads_to=maybe_id(input.move_open_leads_to, "moveOpenLeadsTo"),
                expected_version=input.expected_version,
            ),
        )
        return _stage_payload(result)
