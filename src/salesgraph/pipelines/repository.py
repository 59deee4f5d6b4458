"""All SQL of the pipeline domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.pipelines.models import Pipeline, Stage


async def get_pipeline(
    session: AsyncSession, pipeline_id: uuid.UUID, *, for_update: bool = False
) -> Pipeline | None:
    statement = select(Pipeline).where(Pipeline.id == pipeline_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def list_pipelines(session: AsyncSession, *, include_archived: bool) -> Sequence[Pipeline]:
    statement = select(Pipeline).order_by(Pipeline.created_at, Pipeline.id)
    if not include_archived:
        statement = statement.where(Pipeline.archived_at.is_(None))
    return (await session.execute(statement)).scalars().all()


async def default_pipeline(session: AsyncSession) -> Pipeline | None:
    statement = (
        select(Pipeline)
        .where(Pipeline.archived_at.is_(None))
        .order_by(Pipeline.created_at, Pipeline.id)
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_stage(
    session: AsyncSession, stage_id: uuid.UUID, *, for_update: bool = False
) -> Stage | None:
    statement = select(Stage).where(Stage.id == stage_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def stages_of_pipeline(
    session: AsyncSession, pipeline_id: uuid.UUID, *, for_update: bool = False
) -> Sequence[Stage]:
    """All stages, archived included, in position order."""
    statement = (
        select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalars().all()


async def stages_by_pipeline_ids(
    session: AsyncSession, pipeline_ids: Sequence[uuid.UUID], *, include_archived: bool
) -> dict[uuid.UUID, list[Stage]]:
    statement = (
        select(Stage)
        .where(Stage.pipeline_id.in_(pipeline_ids))
        .order_by(Stage.pipeline_id, Stage.position, Stage.id)
    )
    if not include_archived:
        statement = statement.where(Stage.archived_at.is_(None))
    grouped: dict[uuid.UUID, list[Stage]] = {pipeline_id: [] for pipeline_id in pipeline_ids}
    for stage in (await session.execute(statement)).scalars():
        grouped[stage.pipeline_id].append(stage)
    return grouped


async def stages_by_ids(
    session: AsyncSession, stage_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Stage]:
    statement = select(Stage).where(Stage.id.in_(stage_ids))
    return {stage.id: stage for stage in (await session.execute(statement)).scalars()}


async def pipelines_by_ids(
    session: AsyncSession, pipeline_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Pipeline]:
    statement = select(Pipeline).where(Pipeline.id.in_(pipeline_ids))
    return {pipeline.id: pipeline for pipeline in (await session.execute(statement)).scalars()}


async def active_stage_named(session: AsyncSession, pipeline_id: uuid.UUID, name: str) -> bool:
    """Whether an active stage of the pipeline has this name (case-insensitively)."""
    statement = (
        select(func.count())
        .select_from(Stage)
        .where(
            Stage.pipeline_id == pipeline_id,
            Stage.archived_at.is_(None),
            func.lower(Stage.name) == name.lower(),
        )
    )
    return bool(await session.scalar(statement))
