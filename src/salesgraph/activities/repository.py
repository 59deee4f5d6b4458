"""All SQL of the activity domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.activities.models import Activity, ActivityStatus, FollowUpCadence
from salesgraph.db.base import SqlColumn
from salesgraph.db.filters import combined
from salesgraph.db.keyset import Ordering, Page, PageRequest, SortKey
from salesgraph.leads.models import Lead
from salesgraph.leads.repository import lead_is_live

# Filter fields and the columns they compare.
FILTER_COLUMNS: dict[str, SqlColumn] = {
    "id": Activity.id,
    "lead_id": Activity.lead_id,
    "type": Activity.type,
    "status": Activity.status,
    "direction": Activity.direction,
    "outcome": Activity.outcome,
    "approach_method": Activity.approach_method,
    "closing_technique": Activity.closing_technique,
    "stage_id": Activity.stage_id,
    "assignee_id": Activity.assignee_id,
    "cadence_step": Activity.cadence_step,
    "external_id": Activity.external_id,
    "at": Activity.at,
    "due_at": Activity.due_at,
    "occurred_at": Activity.occurred_at,
    "created_at": Activity.created_at,
}


def filter_conditions(activity_filter: Any, path: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """The conditions of a filter input (an object with the GraphQL filter's fields)."""
    return combined(activity_filter, path, FILTER_COLUMNS)


def newest_first() -> Ordering:
    """A lead's activities and the activity list: latest time first."""
    return Ordering(
        [
            SortKey("AT", Activity.at, "at", "datetime", descending=True),
            SortKey("ID", Activity.id, "id", "uuid", descending=True),
        ]
    )


def soonest_due_first() -> Ordering:
    """An agenda: the soonest due first."""
    return Ordering(
        [
            SortKey("DUE_AT", Activity.due_at, "due_at", "datetime"),
            SortKey("ID", Activity.id, "id", "uuid"),
        ]
    )


def listed(conditions: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """Conditions of a list: not deleted, of a lead that is not deleted, and `conditions`."""
    return [
        Activity.deleted_at.is_(None),
        lead_is_live(Activity.workspace_id, Activity.lead_id),
        *conditions,
    ]


async def page_of_activities(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    ordering: Ordering,
    page: PageRequest,
) -> Page[Activity]:
    statement = (
        select(Activity)
        .where(*listed(conditions), *ordering.conditions(page))
        .order_by(*ordering.order_clauses(backward=page.backward))
        .limit(page.size + 1)
    )
    rows = (await session.execute(statement)).scalars().all()
    return ordering.page(rows, page)


async def count_activities(session: AsyncSession, conditions: Sequence[ColumnElement[bool]]) -> int:
    statement = select(func.count()).select_from(Activity).where(*listed(conditions))
    return int(await session.scalar(statement) or 0)


async def get_activity(
    session: AsyncSession, activity_id: uuid.UUID, *, for_update: bool = False
) -> Activity | None:
    """A non-deleted activity of a non-deleted lead."""
    statement = select(Activity).where(Activity.id == activity_id, *listed(()))
    if for_update:
        statement = statement.with_for_update(of=Activity).execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def activities_by_ids(
    session: AsyncSession, activity_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Activity]:
    """Activities by id, deleted ones included (a timeline shows what happened to them)."""
    statement = select(Activity).where(Activity.id.in_(activity_ids))
    return {row.id: row for row in (await session.execute(statement)).scalars()}


async def used_external_ids(session: AsyncSession, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    statement = select(Activity.external_id).where(Activity.external_id.in_(external_ids))
    return {value for value in (await session.scalars(statement)) if value is not None}


async def cadence_of_workspace(session: AsyncSession) -> FollowUpCadence | None:
    return (await session.execute(select(FollowUpCadence))).scalar_one_or_none()


async def refresh_lead_summaries(session: AsyncSession, leads: Sequence[Lead]) -> None:
    """Recompute the leads' next follow-up and last activity times from their activities.

    A plain UPDATE, not an ORM change: these are derived from the activities, so they do not
    change the lead's version (a client editing the lead is not refused because an email was
    logged meanwhile). The loaded objects get the new values without another read.
    """
    if not leads:
        return
    planned = (
        select(func.min(Activity.due_at))
        .where(
            Activity.workspace_id == Lead.workspace_id,
            Activity.lead_id == Lead.id,
            Activity.status == ActivityStatus.PLANNED,
            Activity.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    completed = (
        select(func.max(Activity.occurred_at))
        .where(
            Activity.workspace_id == Lead.workspace_id,
            Activity.lead_id == Lead.id,
            Activity.status == ActivityStatus.COMPLETED,
            Activity.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    by_id = {lead.id: lead for lead in leads}
    statement = (
        update(Lead)
        .where(Lead.id.in_(list(by_id)))
        .values(next_follow_up_at=planned, last_activity_at=completed)
        .returning(Lead.id, Lead.next_follow_up_at, Lead.last_activity_at, Lead.updated_at)
        .execution_options(synchronize_session=False)
    )
    for lead_id, next_at, last_at, updated_at in (await session.execute(statement)).all():
        lead = by_id[lead_id]
        set_committed_value(lead, "next_follow_up_at", next_at)
        set_committed_value(lead, "last_activity_at", last_at)
        set_committed_value(lead, "updated_at", updated_at)


async def pending_cadence_steps(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> list[Activity]:
    """Planned follow-ups the cadence made for these leads, locked for cancelling."""
    statement = (
        select(Activity)
        .where(
            Activity.lead_id.in_(lead_ids),
            Activity.status == ActivityStatus.PLANNED,
            Activity.cadence_step.is_not(None),
            Activity.deleted_at.is_(None),
        )
        .order_by(Activity.id)
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars())
