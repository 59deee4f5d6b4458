"""Batch functions of the pipeline domain for DataLoaders; results in key order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.batching import in_key_order
from salesgraph.pipelines import repository
from salesgraph.pipelines.models import Pipeline, Stage


async def stage_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Stage | None]:
    return in_key_order(keys, await repository.stages_by_ids(session, keys))


async def pipeline_by_id(session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[Pipeline | None]:
    return in_key_order(keys, await repository.pipelines_by_ids(session, keys))


async def stages_by_pipeline_id(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, bool]]
) -> list[list[Stage]]:
    """Keys are (pipeline id, include archived stages)."""
    results: dict[tuple[uuid.UUID, bool], list[Stage]] = {}
    for include_archived in {include for _, include in keys}:
        ids = [pipeline_id for pipeline_id, include in keys if include == include_archived]
        grouped = await repository.stages_by_pipeline_ids(
            session, ids, include_archived=include_archived
        )
        for pipeline_id, stages in grouped.items():
            results[(pipeline_id, include_archived)] = stages
    return [results[key] for key in keys]
