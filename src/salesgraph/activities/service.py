"""Rules and writes of the activity domain.

Every activity change goes through this module, which keeps three things exact in the same
transaction: the stage a completed activity is recorded at (the lead's stage at the time it
happened, from the stage history), the lead's `next_follow_up_at` and `last_activity_at`, and
the follow-up cadence (salesgraph.activities.cadence).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.activities import cadence, repository
from salesgraph.activities.models import (
    MAX_DURATION_SECONDS,
    Activity,
    ActivityStatus,
    ActivityType,
    ApproachMethod,
    ClosingTechnique,
    Direction,
    FollowUpCadence,
    Outcome,
)
from salesgraph.db.clock import transaction_time
from salesgraph.db.ids import uuid7
from salesgraph.db.tenancy import session_workspace_id
from salesgraph.errors import (
    Collector,
    DomainError,
    DomainErrors,
    ErrorCode,
    conflict,
    invalid_state,
    not_found,
    validation,
)
from salesgraph.events import Actor, changes, record_event
from salesgraph.leads import repository as lead_repository
from salesgraph.leads.models import Lead, LeadStatus
from salesgraph.values import UNSET, Unset
from salesgraph.workspaces.models import Member

MAX_BULK = 500
MAX_SUBJECT = 300
MAX_BODY = 20_000
MAX_EXTERNAL_ID = 200
MAX_REASON = 1_000
# How far ahead of the database clock an occurred time may be (clients' clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class NewActivity:
    """An activity to log: completed (occurred_at, or now) or planned (due_at)."""

    lead_id: uuid.UUID
    type: ActivityType
    subject: str | None = None
    body: str | None = None
    direction: Direction | None = None
    occurred_at: datetime | None = None
    due_at: datetime | None = None
    duration_seconds: int | None = None
    outcome: Outcome | None = None
    approach_method: ApproachMethod | None = None
    closing_technique: ClosingTechnique | None = None
    # UNSET: the lead's owner for a planned activity, the caller's member for a completed one.
    assignee_id: uuid.UUID | Unset | None = UNSET
    external_id: str | None = None


@dataclass(slots=True)
class ActivityChanges:
    """Fields of an activity to change; UNSET leaves a field as it is, None clears it."""

    type: ActivityType | Unset = UNSET
    subject: str | Unset | None = UNSET
    body: str | Unset | None = UNSET
    direction: Direction | Unset | None = UNSET
    occurred_at: datetime | Unset = UNSET
    due_at: datetime | Unset = UNSET
    duration_seconds: int | Unset | None = UNSET
    outcome: Outcome | Unset | None = UNSET
    approach_method: ApproachMethod | Unset | None = UNSET
    closing_technique: ClosingTechnique | Unset | None = UNSET
    assignee_id: uuid.UUID | Unset | None = UNSET


@dataclass(slots=True)
class Completion:
    """How a planned activity went."""

    occurred_at: datetime | None = None
    outcome: Outcome | None = None
    duration_seconds: int | None = None
    subject: str | Unset | None = UNSET
    body: str | Unset | None = UNSET
    approach_method: ApproachMethod | Unset | None = UNSET
    closing_technique: ClosingTechnique | Unset | None = UNSET


@dataclass(slots=True)
class BulkResult:
    """Per row, the activity written or the row's errors; `written` tells whether any was."""

    rows: list[Activity | list[DomainError]] = field(default_factory=list)
    written: bool = False


def _text(value: str | None, limit: int, errors: Collector, *path: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        errors.add(f"must be at most {limit} characters", *path)
    if "\x00" in text:
        # PostgreSQL cannot store it; refused here, a bulk call refuses just this row.
        errors.add("must not contain the NUL character (\\u0000)", *path)
    return text or None


def _check_duration(value: int | None, errors: Collector, *path: str) -> None:
    if value is not None and not 0 <= value <= MAX_DURATION_SECONDS:
        errors.add(f"must be between 0 and {MAX_DURATION_SECONDS} seconds (7 days)", *path)


def _check_occurred(value: datetime, now: datetime, errors: Collector, *path: str) -> None:
    if value > now + CLOCK_SKEW:
        errors.add("is in the future: plan the activity with dueAt instead", *path)


def _validate_new(new: NewActivity, now: datetime, prefix: tuple[str, ...]) -> list[DomainError]:
    """Shape checks of one row (no database access)."""
    errors = Collector()
    new.subject = _text(new.subject, MAX_SUBJECT, errors, *prefix, "subject")
    new.body = _text(new.body, MAX_BODY, errors, *prefix, "body")
    if new.external_id is not None:
        new.external_id = _text(new.external_id, MAX_EXTERNAL_ID, errors, *prefix, "externalId")
        if new.external_id is None:
            errors.add("must not be blank", *prefix, "externalId")
    _check_duration(new.duration_seconds, errors, *prefix, "durationSeconds")
    if new.due_at is not None:
        if new.occurred_at is not None:
            errors.add(
                "give dueAt for a planned activity or occurredAt for a completed one, not both",
                *prefix,
                "occurredAt",
            )
        if new.outcome is not None:
            errors.add(
                "a planned activity has no outcome yet: complete it to record one",
                *prefix,
                "outcome",
            )
    elif new.occurred_at is not None:
        _check_occurred(new.occurred_at, now, errors, *prefix, "occurredAt")
    return errors.errors


def _event(
    session: AsyncSession,
    activity: Activity,
    actor: Actor,
    type_: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> None:
    record_event(
        session,
        workspace_id=activity.workspace_id,
        type=type_,
        subject_type="activity",
        subject_id=activity.id,
        actor=actor,
        lead_id=activity.lead_id,
        occurred_at=occurred_at,
        data=data,
    )


def _snapshot(activity: Activity) -> dict[str, Any]:
    return {
        name: getattr(activity, name)
        for name in (
            "type",
            "status",
            "subject",
            "body",
            "direction",
            "due_at",
            "occurred_at",
            "duration_seconds",
            "outcome",
            "approach_method",
            "closing_technique",
            "stage_id",
            "assignee_id",
        )
    }


async def _active_members(
    session: AsyncSession, member_ids: set[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """Which of these members exist in the workspace, and whether each is active."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Member.id, Member.is_active).where(Member.id.in_(member_ids))
    )
    return {member_id: is_active for member_id, is_active in rows.all()}


async def _locked_leads(session: AsyncSession, lead_ids: set[uuid.UUID]) -> dict[uuid.UUID, Lead]:
    """The non-deleted leads, locked in id order (concurrent bulk calls never deadlock)."""
    if not lead_ids:
        return {}
    statement = (
        select(Lead)
        .where(Lead.id.in_(lead_ids), Lead.deleted_at.is_(None))
        .order_by(Lead.id)
        .with_for_update()
    )
    return {lead.id: lead for lead in (await session.execute(statement)).scalars()}


async def log_activities(
    session: AsyncSession,
    *,
    actor: Actor,
    rows: Sequence[NewActivity],
    reject_everything: bool = True,
    prefix: Callable[[int], tuple[str, ...]] | None = None,
    others_failed: bool = False,
) -> BulkResult:
    """Log activities, each completed or planned, in one transaction.

    With `reject_everything`, one bad row refuses them all and nothing is written; otherwise
    the good rows are written and each bad row reports its errors. Error paths start with
    `prefix(index)`. `others_failed` tells that the caller refused other rows of the call
    already (malformed ones): these rows are then checked, so that every bad row reports its
    errors, and with `reject_everything` nothing is written.
    """
    if len(rows) > MAX_BULK:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"at most {MAX_BULK} activities per call, got {len(rows)}",
            "activities",
        )
    now = await transaction_time(session)
    paths = [prefix(index) if prefix else () for index in range(len(rows))]
    problems: list[list[DomainError]] = [
        _validate_new(row, now, path) for row, path in zip(rows, paths, strict=True)
    ]

    leads = await _locked_leads(session, {row.lead_id for row in rows})
    # The owners too: a planned activity defaults to its lead's owner only while they are active.
    members = await _active_members(
        session,
        {row.assignee_id for row in rows if isinstance(row.assignee_id, uuid.UUID)}
        | {lead.owner_id for lead in leads.values() if lead.owner_id is not None}
        | ({actor.member_id} if actor.member_id else set()),
    )
    external_ids = [row.external_id for row in rows if row.external_id]
    used = await repository.used_external_ids(session, external_ids)
    seen_external: set[str] = set()
    for row, path, errors in zip(rows, paths, problems, strict=True):
        lead = leads.get(row.lead_id)
        if lead is None:
            errors.append(not_found("lead", (*path, "leadId")))
        if isinstance(row.assignee_id, uuid.UUID):
            if row.assignee_id not in members:
                errors.append(not_found("member", (*path, "assigneeId")))
            elif not members[row.assignee_id]:
                errors.append(invalid_state("the member is inactive", (*path, "assigneeId")))
        if row.external_id:
            if row.external_id in used or row.external_id in seen_external:
                errors.append(
                    DomainError(
                        ErrorCode.DUPLICATE,
                        "an activity with this externalId was already logged",
                        (*path, "externalId"),
                    )
                )
            seen_external.add(row.external_id)
        if lead is not None and row.due_at is None and row.occurred_at is None:
            row.occurred_at = now

    moments = [
        (row.lead_id, row.occurred_at)
        for row, errors in zip(rows, problems, strict=True)
        if not errors and row.occurred_at is not None
    ]
    visits = await lead_repository.visits_at(session, moments)
    for row, path, errors in zip(rows, paths, problems, strict=True):
        if (
            not errors
            and row.occurred_at is not None
            and visits[(row.lead_id, row.occurred_at)] is None
        ):
            errors.append(validation("is before the lead was created", (*path, "occurredAt")))

    result = BulkResult()
    failed = others_failed or any(problems)
    if failed and reject_everything:
        result.rows = [errors if errors else [] for errors in problems]
        return result

    written: list[Activity] = []
    for row, errors in zip(rows, problems, strict=True):
        if errors:
            result.rows.append(errors)
            continue
        lead = leads[row.lead_id]
        activity = _new_activity(row, lead, actor, members, visits)
        written.append(activity)
        result.rows.append(activity)
    if not written:
        return result
    session.add_all(written)
    try:
        await session.flush()
    except IntegrityError as error:
        # A concurrent request logged one of these externalIds after this one checked them:
        # the losing request is refused like any duplicate (and a retry reports which row).
        constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
        if constraint != "uq_activities_external_id":
            raise
        raise DomainError(
            ErrorCode.DUPLICATE,
            "an activity with this externalId was logged meanwhile; nothing was written",
            "externalId" if prefix is None else "activities",
        ) from None
    for activity in written:
        completed = activity.status == ActivityStatus.COMPLETED
        _event(
            session,
            activity,
            actor,
            "activity.logged" if completed else "activity.planned",
            _logged_data(activity),
            # Always given (now is the default's value): events of one shape are inserted in one
            # statement, while alternating shapes would cost a statement per change of shape.
            occurred_at=activity.occurred_at if completed else now,
        )
    await _after_changes(session, [leads[activity.lead_id] for activity in written], written, now)
    result.written = True
    return result


def _new_activity(
    row: NewActivity,
    lead: Lead,
    actor: Actor,
    members: dict[uuid.UUID, bool],
    visits: dict[tuple[uuid.UUID, datetime], Any],
) -> Activity:
    planned = row.due_at is not None
    if isinstance(row.assignee_id, Unset):
        default = lead.owner_id if planned else actor.member_id
        assignee_id = default if default is not None and members.get(default, True) else None
    else:
        assignee_id = row.assignee_id
    visit = visits[(row.lead_id, row.occurred_at)] if row.occurred_at is not None else None
    return Activity(
        id=uuid7(),
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        type=row.type,
        status=ActivityStatus.PLANNED if planned else ActivityStatus.COMPLETED,
        subject=row.subject,
        body=row.body,
        direction=row.direction,
        due_at=row.due_at,
        occurred_at=row.occurred_at,
        duration_seconds=row.duration_seconds,
        outcome=row.outcome,
        approach_method=row.approach_method,
        closing_technique=row.closing_technique,
        pipeline_id=visit.pipeline_id if visit is not None else None,
        stage_id=visit.stage_id if visit is not None else None,
        assignee_id=assignee_id,
        created_by_member_id=actor.member_id,
        created_by_api_key_id=actor.api_key_id,
        completed_by_member_id=None if planned else actor.member_id,
        completed_by_api_key_id=None if planned else actor.api_key_id,
        external_id=row.external_id,
    )


def _logged_data(activity: Activity) -> dict[str, Any]:
    return {
        "type": activity.type,
        "status": activity.status,
        "direction": activity.direction,
        "outcome": activity.outcome,
        "stage_id": str(activity.stage_id) if activity.stage_id else None,
        "due_at": activity.due_at.isoformat() if activity.due_at else None,
        "occurred_at": activity.occurred_at.isoformat() if activity.occurred_at else None,
        "assignee_id": str(activity.assignee_id) if activity.assignee_id else None,
    }


async def _after_changes(
    session: AsyncSession,
    leads: Sequence[Lead],
    completed_now: Sequence[Activity],
    now: datetime,
) -> None:
    """Keep the cadence and the leads' summaries exact after activities changed."""
    unique = list({lead.id: lead for lead in leads}.values())
    positive = {
        activity.lead_id
        for activity in completed_now
        if activity.status == ActivityStatus.COMPLETED and activity.outcome == Outcome.POSITIVE
    }
    if positive:
        await cadence.cancel_pending(
            session, sorted(positive), at=now, reason="a touch had a positive outcome"
        )
    if any(activity.status == ActivityStatus.COMPLETED for activity in completed_now):
        await cadence.advance(session, [lead.id for lead in unique])
    await repository.refresh_lead_summaries(session, unique)


async def log_activity(session: AsyncSession, *, actor: Actor, new: NewActivity) -> Activity:
    """Log one activity; its errors are raised, naming the input's fields."""
    result = await log_activities(session, actor=actor, rows=[new])
    row = result.rows[0]
    if isinstance(row, list):
        if len(row) == 1:
            raise row[0]
        raise DomainErrors(row)
    return row


async def _load(
    session: AsyncSession, activity_id: uuid.UUID, expected_version: int | None
) -> tuple[Activity, Lead, datetime]:
    """The activity and its lead, both locked (lead first, as everywhere), and the time."""
    activity = await repository.get_activity(session, activity_id)
    if activity is None:
        raise not_found("activity", "id")
    found = await lead_repository.get_lead(session, activity.lead_id, for_update=True)
    if found is None:  # the lead was deleted meanwhile
        raise not_found("activity", "id")
    lead, now = found
    activity = await repository.get_activity(session, activity_id, for_update=True)
    if activity is None:
        raise not_found("activity", "id")
    if expected_version is not None and activity.version != expected_version:
        raise conflict("the activity", expected_version, activity.version)
    return activity, lead, now


async def _stage_at(
    session: AsyncSession, activity: Activity, occurred_at: datetime, field: str
) -> None:
    visit = (await lead_repository.visits_at(session, [(activity.lead_id, occurred_at)]))[
        (activity.lead_id, occurred_at)
    ]
    if visit is None:
        raise validation("is before the lead was created", field)
    activity.pipeline_id = visit.pipeline_id
    activity.stage_id = visit.stage_id


async def _check_assignee(session: AsyncSession, assignee_id: uuid.UUID | None) -> None:
    if assignee_id is None:
        return
    members = await _active_members(session, {assignee_id})
    if assignee_id not in members:
        raise not_found("member", "assigneeId")
    if not members[assignee_id]:
        raise invalid_state("the member is inactive", "assigneeId")


async def complete_activity(
    session: AsyncSession,
    *,
    actor: Actor,
    activity_id: uuid.UUID,
    completion: Completion,
    expected_version: int | None,
) -> Activity:
    """Record that a planned activity happened, and how it went."""
    errors = Collector()
    _check_duration(completion.duration_seconds, errors, "durationSeconds")
    subject = body = UNSET
    if not isinstance(completion.subject, Unset):
        subject = _text(completion.subject, MAX_SUBJECT, errors, "subject")  # type: ignore[assignment]
    if not isinstance(completion.body, Unset):
        body = _text(completion.body, MAX_BODY, errors, "body")  # type: ignore[assignment]
    errors.raise_if_any()
    activity, lead, now = await _load(session, activity_id, expected_version)
    if activity.status != ActivityStatus.PLANNED:
        raise invalid_state(f"the activity is {activity.status.value}, not PLANNED", "id")
    occurred_at = completion.occurred_at or max(now, activity.created_at)
    if occurred_at > now + CLOCK_SKEW:
        raise validation(
            "is in the future: a planned activity completes when it happens", "occurredAt"
        )
    if occurred_at < activity.created_at:
        raise validation("is before the activity was planned", "occurredAt")
    before = _snapshot(activity)
    await _stage_at(session, activity, occurred_at, "occurredAt")
    activity.status = ActivityStatus.COMPLETED
    activity.occurred_at = occurred_at
    activity.outcome = completion.outcome
    if completion.duration_seconds is not None:
        activity.duration_seconds = completion.duration_seconds
    for name, value in (
        ("subject", subject),
        ("body", body),
        ("approach_method", completion.approach_method),
        ("closing_technique", completion.closing_technique),
    ):
        if not isinstance(value, Unset):
            setattr(activity, name, value)
    activity.completed_by_member_id = actor.member_id
    activity.completed_by_api_key_id = actor.api_key_id
    await session.flush()
    _event(
        session,
        activity,
        actor,
        "activity.completed",
        {**_logged_data(activity), "changes": changes(before, _snapshot(activity))},
        occurred_at=occurred_at,
    )
    await _after_changes(session, [lead], [activity], now)
    return activity


async def update_activity(
    session: AsyncSession,
    *,
    actor: Actor,
    activity_id: uuid.UUID,
    fields: ActivityChanges,
    expected_version: int | None,
) -> Activity:
    """Correct what was recorded; the history keeps every version's changes."""
    errors = Collector()
    values: dict[str, Any] = {}
    for name, limit in (("subject", MAX_SUBJECT), ("body", MAX_BODY)):
        raw = getattr(fields, name)
        if not isinstance(raw, Unset):
            values[name] = _text(raw, limit, errors, name)
    if not isinstance(fields.duration_seconds, Unset):
        _check_duration(fields.duration_seconds, errors, "durationSeconds")
    for name in (
        "type",
        "direction",
        "occurred_at",
        "due_at",
        "duration_seconds",
        "outcome",
        "approach_method",
        "closing_technique",
        "assignee_id",
    ):
        value = getattr(fields, name)
        if not isinstance(value, Unset):
            values[name] = value
    for name in ("type", "occurred_at", "due_at"):
        if name in values and values[name] is None:
            errors.add(
                "must not be null",
                {"type": "type", "occurred_at": "occurredAt", "due_at": "dueAt"}[name],
            )
    errors.raise_if_any()
    activity, lead, now = await _load(session, activity_id, expected_version)
    before = _snapshot(activity)
    completed = activity.status == ActivityStatus.COMPLETED
    if "outcome" in values and values["outcome"] is not None and not completed:
        raise validation(
            "a planned activity has no outcome yet: complete it to record one", "outcome"
        )
    if "occurred_at" in values:
        if not completed:
            raise validation("only a completed activity has an occurred time", "occurredAt")
        if values["occurred_at"] > now + CLOCK_SKEW:
            raise validation("is in the future", "occurredAt")
        await _stage_at(session, activity, values["occurred_at"], "occurredAt")
    if "due_at" in values and activity.status != ActivityStatus.PLANNED:
        raise validation("only a planned activity has a due time", "dueAt")
    if "assignee_id" in values:
        await _check_assignee(session, values["assignee_id"])
    for name, value in values.items():
        setattr(activity, name, value)
    changed = changes(before, _snapshot(activity))
    if not changed:
        return activity
    await session.flush()
    _event(session, activity, actor, "activity.updated", {"changes": changed})
    if completed and CADENCE_INPUTS & changed.keys() and activity.outcome != Outcome.POSITIVE:
        # The touch a pending step follows may have moved, turned or gone: plan it anew.
        await _rederive(session, lead, now)
    else:
        await _after_changes(session, [lead], [activity] if completed else [], now)
    return activity


# What the cadence reads from a completed activity.
CADENCE_INPUTS = frozenset({"occurred_at", "direction", "outcome"})


async def _rederive(session: AsyncSession, lead: Lead, now: datetime) -> None:
    """Replan a lead's cadence after a completed activity was corrected or deleted: the steps
    it planned are cancelled and the step the corrected history calls for (if any) planned."""
    await cadence.cancel_pending(
        session, [lead.id], at=now, reason="an activity it followed was corrected or deleted"
    )
    await cadence.advance(session, [lead.id])
    await repository.refresh_lead_summaries(session, [lead])


async def cancel_activity(
    session: AsyncSession,
    *,
    actor: Actor,
    activity_id: uuid.UUID,
    reason: str | None,
    expected_version: int | None,
) -> Activity:
    errors = Collector()
    text = _text(reason, MAX_REASON, errors, "reason")
    errors.raise_if_any()
    activity, lead, now = await _load(session, activity_id, expected_version)
    if activity.status != ActivityStatus.PLANNED:
        raise invalid_state(f"the activity is {activity.status.value}, not PLANNED", "id")
    activity.status = ActivityStatus.CANCELED
    activity.canceled_at = now
    activity.cancel_reason = text
    await session.flush()
    _event(session, activity, actor, "activity.canceled", {"reason": text})
    await repository.refresh_lead_summaries(session, [lead])
    return activity


async def delete_activity(
    session: AsyncSession, *, actor: Actor, activity_id: uuid.UUID, expected_version: int | None
) -> Activity:
    """Soft-delete: the activity leaves every list and summary; the timeline keeps it."""
    activity, lead, now = await _load(session, activity_id, expected_version)
    activity.deleted_at = now
    await session.flush()
    _event(session, activity, actor, "activity.deleted", {"status": activity.status})
    if activity.status == ActivityStatus.COMPLETED:
        await _rederive(session, lead, now)
    else:
        await repository.refresh_lead_summaries(session, [lead])
    return activity


async def set_cadence_paused(
    session: AsyncSession,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    paused: bool,
    expected_version: int | None,
) -> Lead:
    """Pause a lead's cadence (its pending steps are cancelled) or resume it (the step due is
    planned again, not earlier than now)."""
    found = await lead_repository.get_lead(session, lead_id, for_update=True)
    if found is None:
        raise not_found("lead", "leadId")
    lead, now = found
    if expected_version is not None and lead.version != expected_version:
        raise conflict("the lead", expected_version, lead.version)
    if paused == (lead.cadence_paused_at is not None):
        raise invalid_state(
            "the lead's cadence is already " + ("paused" if paused else "running"), "leadId"
        )
    if paused and lead.status != LeadStatus.OPEN:
        raise invalid_state(f"the lead is {lead.status.value}: its cadence has stopped", "leadId")
    lead.cadence_paused_at = now if paused else None
    await session.flush()
    record_event(
        session,
        workspace_id=lead.workspace_id,
        type="lead.cadence_paused" if paused else "lead.cadence_resumed",
        subject_type="lead",
        subject_id=lead.id,
        actor=actor,
        data={},
    )
    if paused:
        await cadence.cancel_pending(session, [lead.id], at=now, reason="the cadence was paused")
    else:
        await cadence.advance(session, [lead.id], not_before=now)
    await repository.refresh_lead_summaries(session, [lead])
    return lead


async def update_cadence(
    session: AsyncSession,
    *,
    actor: Actor,
    enabled: bool | Unset,
    max_touches: int | Unset,
    intervals_days: list[int] | Unset,
    expected_version: int | None,
) -> FollowUpCadence:
    """Change the workspace's cadence rule (created with the defaults on first change)."""
    workspace_id = session_workspace_id(session.sync_session)
    # The row is made on the first change; ON CONFLICT lets two first changes meet on it.
    await session.execute(
        postgresql.insert(FollowUpCadence)
        .values(workspace_id=workspace_id)
        .on_conflict_do_nothing(index_elements=[FollowUpCadence.workspace_id])
    )
    row = (
        await session.execute(
            select(FollowUpCadence).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    if expected_version is not None and row.version != expected_version:
        raise conflict("the cadence", expected_version, row.version)
    before = {
        "enabled": row.enabled,
        "max_touches": row.max_touches,
        "intervals_days": list(row.intervals_days),
    }
    after = dict(before)
    if not isinstance(enabled, Unset):
        after["enabled"] = enabled
    if not isinstance(max_touches, Unset):
        after["max_touches"] = max_touches
    if not isinstance(intervals_days, Unset):
        after["intervals_days"] = list(intervals_days)
    errors = Collector()
    touches = after["max_touches"]
    intervals = after["intervals_days"]
    assert isinstance(touches, int)
    assert isinstance(intervals, list)
    if not 1 <= touches <= 20:
        errors.add("must be between 1 and 20", "maxTouches")
    elif len(intervals) != touches - 1:
        errors.add(
            f"give one interval per gap between touches: {touches - 1} for {touches} touches",
            "intervalsDays",
        )
    for index, days in enumerate(intervals):
        if not 1 <= days <= 365:
            errors.add("each interval is 1 to 365 days", "intervalsDays", str(index))
    errors.raise_if_any()
    changed = changes(before, after)
    if changed:
        row.enabled = bool(after["enabled"])
        row.max_touches = touches
        row.intervals_days = intervals
        await session.flush()
        record_event(
            session,
            workspace_id=workspace_id,
            type="cadence.updated",
            subject_type="workspace",
            subject_id=workspace_id,
            actor=actor,
            data={"changes": changed},
        )
    return row
