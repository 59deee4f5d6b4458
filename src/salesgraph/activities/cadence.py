"""The follow-up cadence: planning the next touch when an outbound touch goes unanswered.

Definitions (also in the schema's descriptions):

- A *touch* is a completed OUTBOUND activity.
- The cadence of a lead *restarts* at its latest completed activity with a POSITIVE outcome
  and at its latest reopening; touches are counted after that point.
- When a lead's latest completed activity is a touch without a POSITIVE outcome, the lead is
  open, not deleted, not paused, and has nothing planned, the cadence plans touch n + 1 for
  the lead's owner, `intervals_days[n - 1]` days after touch n (n = touches counted), of the
  same type as touch n, unless n has reached `max_touches`.
- The cadence stops when a touch has a POSITIVE outcome, and when the lead is won, lost or
  paused: the follow-ups it planned and that are still pending are cancelled.

Everything is computed from recorded times (the touch's own time, not the clock), so the
steps are exact and repeatable; only resuming a paused cadence uses the clock, so a step that
would already be overdue is planned for now instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salesgraph.activities import repository
from salesgraph.activities.models import (
    DEFAULT_INTERVALS_DAYS,
    DEFAULT_MAX_TOUCHES,
    Activity,
    ActivityStatus,
    Direction,
    Outcome,
)
from salesgraph.db.ids import uuid7
from salesgraph.events import SYSTEM, record_event
from salesgraph.leads.models import Lead, LeadStatus, StageVisit, VisitEntry
from salesgraph.workspaces.models import Member


@dataclass(frozen=True, slots=True)
class CadenceRule:
    """A workspace's cadence: whether it runs, how many touches, the days between them."""

    enabled: bool = True
    max_touches: int = DEFAULT_MAX_TOUCHES
    intervals_days: tuple[int, ...] = DEFAULT_INTERVALS_DAYS


async def rule_of_workspace(session: AsyncSession) -> CadenceRule:
    row = await repository.cadence_of_workspace(session)
    if row is None:
        return CadenceRule()
    return CadenceRule(row.enabled, row.max_touches, tuple(row.intervals_days))


@dataclass(frozen=True, slots=True)
class _State:
    lead_id: uuid.UUID
    workspace_id: uuid.UUID
    owner_id: uuid.UUID | None
    last_type: str
    last_occurred_at: datetime
    touches: int


async def _due_states(session: AsyncSession, lead_ids: Sequence[uuid.UUID]) -> list[_State]:
    """The leads whose latest completed activity calls for a follow-up, with their touch
    counts, in one statement."""
    last = (
        select(Activity.type, Activity.direction, Activity.outcome, Activity.occurred_at)
        .where(
            Activity.workspace_id == Lead.workspace_id,
            Activity.lead_id == Lead.id,
            Activity.status == ActivityStatus.COMPLETED,
            Activity.deleted_at.is_(None),
        )
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(1)
        .lateral("last")
    )
    positive = aliased(Activity)
    last_positive = (
        select(func.max(positive.occurred_at))
        .where(
            positive.workspace_id == Lead.workspace_id,
            positive.lead_id == Lead.id,
            positive.status == ActivityStatus.COMPLETED,
            positive.outcome == Outcome.POSITIVE,
            positive.deleted_at.is_(None),
        )
        .correlate(Lead)
        .scalar_subquery()
    )
    last_reopening = (
        select(func.max(StageVisit.entered_at))
        .where(
            StageVisit.workspace_id == Lead.workspace_id,
            StageVisit.lead_id == Lead.id,
            StageVisit.entry == VisitEntry.REOPENED,
        )
        .correlate(Lead)
        .scalar_subquery()
    )
    restart = func.greatest(last_positive, last_reopening)
    touch = aliased(Activity)
    touches = (
        select(func.count())
        .where(
            touch.workspace_id == Lead.workspace_id,
            touch.lead_id == Lead.id,
            touch.status == ActivityStatus.COMPLETED,
            touch.direction == Direction.OUTBOUND,
            touch.deleted_at.is_(None),
            func.coalesce(touch.occurred_at > restart, True),
        )
        .correlate(Lead)
        .scalar_subquery()
    )
    planned = aliased(Activity)
    has_planned = exists().where(
        planned.workspace_id == Lead.workspace_id,
        planned.lead_id == Lead.id,
        planned.status == ActivityStatus.PLANNED,
        planned.deleted_at.is_(None),
    )
    statement = (
        select(
            Lead.id,
            Lead.workspace_id,
            Lead.owner_id,
            last.c.type,
            last.c.occurred_at,
            touches,
        )
        .select_from(Lead)
        .join(last, true())
        .where(
            Lead.id.in_(lead_ids),
            Lead.status == LeadStatus.OPEN,
            Lead.deleted_at.is_(None),
            Lead.cadence_paused_at.is_(None),
            ~has_planned,
            and_(
                last.c.direction == Direction.OUTBOUND,
                last.c.outcome.is_distinct_from(Outcome.POSITIVE),
            ),
        )
        .order_by(Lead.id)
    )
    return [_State(*row) for row in (await session.execute(statement)).all()]


async def advance(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID], *, not_before: datetime | None = None
) -> list[Activity]:
    """Plan the next follow-up of every lead among `lead_ids` that the cadence calls for.

    `not_before` moves a step that would be due earlier to that time (used on resuming).
    """
    if not lead_ids:
        return []
    rule = await rule_of_workspace(session)
    if not rule.enabled:
        return []
    states = [
        state
        for state in await _due_states(session, lead_ids)
        # A latest touch made before a restart (a reopening) counts nothing: no step is due.
        if 1 <= state.touches < rule.max_touches
    ]
    if not states:
        return []
    owners = {state.owner_id for state in states if state.owner_id is not None}
    active_owners = set(
        await session.scalars(
            select(Member.id).where(Member.id.in_(owners), Member.is_active.is_(True))
        )
        if owners
        else ()
    )
    planned: list[Activity] = []
    for state in states:
        step = state.touches + 1
        due_at = state.last_occurred_at + timedelta(days=rule.intervals_days[state.touches - 1])
        if not_before is not None and due_at < not_before:
            due_at = not_before
        activity = Activity(
            id=uuid7(),
            workspace_id=state.workspace_id,
            lead_id=state.lead_id,
            type=state.last_type,
            status=ActivityStatus.PLANNED,
            subject=f"Follow-up {step} of {rule.max_touches}",
            direction=Direction.OUTBOUND,
            due_at=due_at,
            assignee_id=state.owner_id if state.owner_id in active_owners else None,
            cadence_step=step,
        )
        planned.append(activity)
    session.add_all(planned)
    await session.flush()
    for activity in planned:
        record_event(
            session,
            workspace_id=activity.workspace_id,
            type="activity.planned",
            subject_type="activity",
            subject_id=activity.id,
            actor=SYSTEM,
            lead_id=activity.lead_id,
            data={
                "type": activity.type,
                "due_at": activity.due_at.isoformat() if activity.due_at else None,
                "assignee_id": str(activity.assignee_id) if activity.assignee_id else None,
                "cadence_step": activity.cadence_step,
                "planned_by": "cadence",
            },
        )
    return planned


async def cancel_pending(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID], *, at: datetime, reason: str
) -> list[Activity]:
    """Cancel the follow-ups the cadence planned for these leads that are still pending."""
    if not lead_ids:
        return []
    pending = await repository.pending_cadence_steps(session, lead_ids)
    for activity in pending:
        activity.status = ActivityStatus.CANCELED
        activity.canceled_at = at
        activity.cancel_reason = reason
    if pending:
        await session.flush()
    for activity in pending:
        record_event(
            session,
            workspace_id=activity.workspace_id,
            type="activity.canceled",
            subject_type="activity",
            subject_id=activity.id,
            actor=SYSTEM,
            lead_id=activity.lead_id,
            data={"reason": reason, "cadence_step": activity.cadence_step},
        )
    return pending


async def follow_owner(session: AsyncSession, lead: Lead) -> None:
    """Give the steps the cadence planned for a lead to its (new) owner: they are planned for
    the owner, so a handoff or reassignment takes them along."""
    await session.execute(
        update(Activity)
        .where(
            Activity.lead_id == lead.id,
            Activity.status == ActivityStatus.PLANNED,
            Activity.cadence_step.is_not(None),
            Activity.deleted_at.is_(None),
        )
        .values(assignee_id=lead.owner_id, version=Activity.version + 1)
        .execution_options(synchronize_session=False)
    )


async def stop(session: AsyncSession, lead: Lead, *, at: datetime, reason: str) -> None:
    """Stop a lead's cadence (won, lost, paused): its pending steps are cancelled."""
    if await cancel_pending(session, [lead.id], at=at, reason=reason):
        await repository.refresh_lead_summaries(session, [lead])
