"""Rules and writes of the pipeline domain.

Stages are referred to by id everywhere (leads, stage history, metrics), so renaming,
reordering or archiving a stage never rewrites the past. A stage that holds open leads is
archived only together with a stage to move them to.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.errors import (
    Collector,
    DomainError,
    ErrorCode,
    conflict,
    invalid_state,
    not_found,
    validation,
)
from salesgraph.events import Actor, changes, record_event
from salesgraph.pipelines import repository
from salesgraph.pipelines.models import Pipeline, PipelineTemplate, Stage
from salesgraph.pipelines.templates import TEMPLATES, StageSpec
from salesgraph.values import UNSET, Unset
from salesgraph.workspaces.service import validate_name

MAX_STAGES = 30


@dataclass(frozen=True, slots=True)
class StageInput:
    """A stage as a client describes it when creating a custom pipeline."""

    name: str
    win_probability: Decimal
    target_days: int | None = None


def _check_probability(value: Decimal, field: tuple[str, ...], errors: Collector) -> Decimal:
    try:
        value = Decimal(value)
    except (InvalidOperation, ValueError):
        errors.add("must be a number between 0 and 1", *field)
        return Decimal(0)
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        errors.add("must be between 0 and 1", *field)
    elif -value.as_tuple().exponent > 4:  # type: ignore[operator]
        errors.add("has at most 4 decimal places", *field)
    return value


def _check_target_days(value: int | None, field: tuple[str, ...], errors: Collector) -> None:
    if value is not None and not 1 <= value <= 3650:
        errors.add("must be between 1 and 3650 days", *field)


def _duplicate_name(name: str) -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE, f"the pipeline already has a stage named {name!r}", "name"
    )


def _stage_event_data(stage: Stage) -> dict[str, object]:
    return {
        "name": stage.name,
        "position": stage.position,
        "win_probability": f"{stage.win_probability:.4f}",
        "target_days": stage.target_days,
    }


async def create_pipeline(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    actor: Actor,
    name: str,
    template: PipelineTemplate | None = None,
    stages: Sequence[StageInput] | None = None,
) -> Pipeline:
    """A pipeline from a template (SEVEN_STAGE by default) or from a custom list of stages."""
    errors = Collector()
    name = validate_name(name, "name", errors)
    if stages is not None and template not in (None, PipelineTemplate.CUSTOM):
        errors.add("give either a template or a list of stages, not both", "stages")
    specs: list[StageSpec] = []
    if stages is not None:
        if not 1 <= len(stages) <= MAX_STAGES:
            errors.add(f"a pipeline has 1 to {MAX_STAGES} stages", "stages")
        seen: set[str] = set()
        for index, stage in enumerate(stages):
            field = ("stages", str(index))
            stage_name = validate_name(stage.name, (*field, "name"), errors)
            if stage_name and stage_name.lower() in seen:
                errors.add(f"stage name {stage_name!r} is used twice", *field, "name")
            seen.add(stage_name.lower())
            probability = _check_probability(
                stage.win_probability, (*field, "winProbability"), errors
            )
            _check_target_days(stage.target_days, (*field, "targetDays"), errors)
            specs.append(StageSpec(stage_name, probability, stage.target_days))
        template = PipelineTemplate.CUSTOM
    else:
        if template is None:
            template = PipelineTemplate.SEVEN_STAGE
        if template == PipelineTemplate.CUSTOM:
            errors.add("a CUSTOM pipeline needs its list of stages", "stages")
        else:
            specs = list(TEMPLATES[template])
    errors.raise_if_any()

    pipeline = Pipeline(workspace_id=workspace_id, name=name, template=template)
    session.add(pipeline)
    await session.flush()
    for position, spec in enumerate(specs, start=1):
        session.add(
            Stage(
                workspace_id=workspace_id,
                pipeline_id=pipeline.id,
                name=spec.name,
                position=position,
                win_probability=spec.win_probability,
                target_days=spec.target_days,
            )
        )
    await session.flush()
    record_event(
        session,
        workspace_id=workspace_id,
        type="pipeline.created",
        subject_type="pipeline",
        subject_id=pipeline.id,
        actor=actor,
        data={"name": name, "template": template.value, "stages": [s.name for s in specs]},
    )
    return pipeline


async def _load_pipeline(
    session: AsyncSession, pipeline_id: uuid.UUID, expected_version: int | None, field: str = "id"
) -> Pipeline:
    pipeline = await repository.get_pipeline(session, pipeline_id, for_update=True)
    if pipeline is None:
        raise not_found("pipeline", field)
    if expected_version is not None and pipeline.version != expected_version:
        raise conflict("the pipeline", expected_version, pipeline.version)
    return pipeline


async def _load_stage(
    session: AsyncSession, stage_id: uuid.UUID, expected_version: int | None, field: str = "id"
) -> Stage:
    stage = await repository.get_stage(session, stage_id, for_update=True)
    if stage is None:
        raise not_found("stage", field)
    if expected_version is not None and stage.version != expected_version:
        raise conflict("the stage", expected_version, stage.version)
    return stage


async def rename_pipeline(
    session: AsyncSession,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID,
    name: str,
    expected_version: int | None,
) -> Pipeline:
    errors = Collector()
    name = validate_name(name, "name", errors)
    errors.raise_if_any()
    pipeline = await _load_pipeline(session, pipeline_id, expected_version)
    if name == pipeline.name:
        return pipeline
    before = {"name": pipeline.name}
    pipeline.name = name
    await session.flush()
    record_event(
        session,
        workspace_id=pipeline.workspace_id,
        type="pipeline.updated",
        subject_type="pipeline",
        subject_id=pipeline.id,
        actor=actor,
        data={"changes": changes(before, {"name": name})},
    )
    return pipeline


async def _touch_pipeline(session: AsyncSession, pipeline: Pipeline) -> None:
    """Any change to a pipeline's stages is a new version of the pipeline."""
    pipeline.updated_at = func.now()
    await session.flush()


async def add_stage(
    session: AsyncSession,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID,
    name: str,
    win_probability: Decimal,
    target_days: int | None,
    position: int | None,
    expected_version: int | None,
) -> Stage:
    """Insert a stage at `position` among the active stages (at the end when not given)."""
    errors = Collector()
    name = validate_name(name, "name", errors)
    win_probability = _check_probability(win_probability, ("winProbability",), errors)
    _check_target_days(target_days, ("targetDays",), errors)
    errors.raise_if_any()
    pipeline = await _load_pipeline(session, pipeline_id, expected_version, "pipelineId")
    stages = await repository.stages_of_pipeline(session, pipeline_id, for_update=True)
    active = [stage for stage in stages if stage.archived_at is None]
    if len(active) >= MAX_STAGES:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a pipeline has at most {MAX_STAGES} active stages",
            "pipelineId",
        )
    if any(stage.name.lower() == name.lower() for stage in active):
        raise _duplicate_name(name)
    if position is not None and not 1 <= position <= len(active) + 1:
        raise validation(f"position must be between 1 and {len(active) + 1}", "position")
    new_stage = Stage(
        workspace_id=pipeline.workspace_id,
        pipeline_id=pipeline.id,
        name=name,
        position=0,
        win_probability=win_probability,
        target_days=target_days,
    )
    ordered = list(active)
    ordered.insert((position or len(active) + 1) - 1, new_stage)
    session.add(new_stage)
    await _renumber(session, ordered, [stage for stage in stages if stage.archived_at is not None])
    await _touch_pipeline(session, pipeline)
    record_event(
        session,
        workspace_id=pipeline.workspace_id,
        type="stage.created",
        subject_type="stage",
        subject_id=new_stage.id,
        actor=actor,
        data={"pipeline_id": str(pipeline.id), **_stage_event_data(new_stage)},
    )
    return new_stage


async def _renumber(
    session: AsyncSession, active: Sequence[Stage], archived: Sequence[Stage]
) -> None:
    """Active stages take positions 1..n in the given order; archived ones follow them.

    The (pipeline, position) unique constraint is deferred to commit, so positions may collide
    in the middle of the renumbering.
    """
    for position, stage in enumerate([*active, *archived], start=1):
        if stage.position != position:
            stage.position = position
    await session.flush()


async def update_stage(
    session: AsyncSession,
    *,
    actor: Actor,
    stage_id: uuid.UUID,
    name: str | Unset = UNSET,
    win_probability: Decimal | Unset = UNSET,
    target_days: int | Unset | None = UNSET,
    expected_version: int | None,
) -> Stage:
    errors = Collector()
    if not isinstance(name, Unset):
        name = validate_name(name, "name", errors)
    if not isinstance(win_probability, Unset):
        win_probability = _check_probability(win_probability, ("winProbability",), errors)
    if not isinstance(target_days, Unset):
        _check_target_days(target_days, ("targetDays",), errors)
    errors.raise_if_any()
    stage = await _load_stage(session, stage_id, expected_version)
    before = _stage_event_data(stage)
    # Only active stages' names are unique: an archived stage may share an active one's name.
    if (
        not isinstance(name, Unset)
        and name.lower() != stage.name.lower()
        and stage.archived_at is None
        and await repository.active_stage_named(session, stage.pipeline_id, name)
    ):
        raise _duplicate_name(name)
    if not isinstance(name, Unset):
        stage.name = name
    if not isinstance(win_probability, Unset):
        stage.win_probability = win_probability
    if not isinstance(target_days, Unset):
        stage.target_days = target_days
    changed = changes(before, _stage_event_data(stage))
    if not changed:
        return stage
    await session.flush()
    record_event(
        session,
        workspace_id=stage.workspace_id,
        type="stage.updated",
        subject_type="stage",
        subject_id=stage.id,
        actor=actor,
        data={"changes": changed},
    )
    return stage


async def reorder_stages(
    session: AsyncSession,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID,
    stage_ids: Sequence[uuid.UUID],
    expected_version: int | None,
) -> Pipeline:
    """Put the active stages in the given order; the list must name each active stage once."""
    pipeline = await _load_pipeline(session, pipeline_id, expected_version, "pipelineId")
    stages = await repository.stages_of_pipeline(session, pipeline_id, for_update=True)
    active = {stage.id: stage for stage in stages if stage.archived_at is None}
    if len(set(stage_ids)) != len(stage_ids):
        raise validation("a stage is listed more than once", "stageIds")
    if set(stage_ids) != set(active):
        raise validation(
            "list every active stage of the pipeline exactly once, and no other", "stageIds"
        )
    before = [str(stage.id) for stage in stages if stage.archived_at is None]
    await _renumber(
        session,
        [active[stage_id] for stage_id in stage_ids],
        [stage for stage in stages if stage.archived_at is not None],
    )
    await _touch_pipeline(session, pipeline)
    record_event(
        session,
        workspace_id=pipeline.workspace_id,
        type="pipeline.stages_reordered",
        subject_type="pipeline",
        subject_id=pipeline.id,
        actor=actor,
        data={"changes": {"stage_ids": {"old": before, "new": [str(i) for i in stage_ids]}}},
    )
    return pipeline


async def archive_stage(
    session: AsyncSession,
    *,
    actor: Actor,
    stage_id: uuid.UUID,
    move_open_leads_to: uuid.UUID | None,
    expected_version: int | None,
) -> Stage:
    """Archive a stage; its open leads move to `move_open_leads_to`, which they need if any."""
    from salesgraph.leads import service as lead_service

    # The pipeline before its stages, the order in which adding and reordering lock them:
    # two changes of one pipeline's stages must not each hold a lock the other waits for.
    unlocked = await repository.get_stage(session, stage_id)
    if unlocked is None:
        raise not_found("stage", "id")
    pipeline = await _load_pipeline(session, unlocked.pipeline_id, None)
    session.expunge(unlocked)  # read again below, under the lock
    stage = await _load_stage(session, stage_id, expected_version)
    if stage.archived_at is not None:
        raise invalid_state("the stage is already archived", "id")
    stages = await repository.stages_of_pipeline(session, stage.pipeline_id, for_update=True)
    active = [s for s in stages if s.archived_at is None]
    if len(active) == 1:
        raise invalid_state("the last active stage of a pipeline cannot be archived", "id")
    open_leads = await lead_service.count_open_leads_at(session, stage.id)
    target: Stage | None = None
    if move_open_leads_to is not None:
        target = next((s for s in active if s.id == move_open_leads_to), None)
        if target is None or target.id == stage.id:
            raise validation(
                "move open leads to another active stage of the same pipeline", "moveOpenLeadsTo"
            )
    if open_leads and target is None:
        raise invalid_state(
            f"the stage holds {open_leads} open lead(s): say where they go with moveOpenLeadsTo",
            "moveOpenLeadsTo",
        )
    moved = 0
    if target is not None and open_leads:
        moved = await lead_service.move_all_open_leads(
            session,
            actor=actor,
            from_stage=stage,
            to_stage=target,
            reason=f"stage {stage.name!r} archived",
        )
    stage.archived_at = func.now()
    await _renumber(
        session,
        [s for s in active if s.id != stage.id],
        [*(s for s in stages if s.archived_at is not None and s.id != stage.id), stage],
    )
    await _touch_pipeline(session, pipeline)
    await session.refresh(stage)
    record_event(
        session,
        workspace_id=stage.workspace_id,
        type="stage.archived",
        subject_type="stage",
        subject_id=stage.id,
        actor=actor,
        data={
            "moved_open_leads": moved,
            "moved_to_stage_id": str(target.id) if target is not None else None,
        },
    )
    return stage
