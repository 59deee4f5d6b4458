"""All SQL of the handoff domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.base import SqlColumn
from salesgraph.db.filters import combined
from salesgraph.db.keyset import Ordering, Page, PageRequest, SortKey
from salesgraph.db.windows import counts_by_parent, pages_by_parent
from salesgraph.handoffs.models import AssignmentRule, Handoff, HandoffStatus
from salesgraph.leads.repository import lead_is_live
from salesgraph.workspaces.models import Member, TeamMembership

# Filter fields and the columns they compare.
FILTER_COLUMNS: dict[str, SqlColumn] = {
    "lead_id": Handoff.lead_id,
    "to_owner_id": Handoff.to_owner_id,
    "to_team_id": Handoff.to_team_id,
    "from_owner_id": Handoff.from_owner_id,
    "status": Handoff.status,
    "handed_at": Handoff.handed_at,
}


# The handoff's lead is not deleted: a deleted lead's handoffs leave every list.
LEAD_IS_LIVE = lead_is_live(Handoff.workspace_id, Handoff.lead_id)


def handoff_ordering() -> Ordering:
    """Newest first: by the time of handing, then by id."""
    return Ordering(
        [
            SortKey("HANDED_AT", Handoff.handed_at, "handed_at", "datetime", descending=True),
            SortKey("ID", Handoff.id, "id", "uuid", descending=True),
        ]
    )


def _filter_condition(handoff_filter: Any) -> ColumnElement[bool]:
    return and_(true(), *combined(handoff_filter, ("filter",), FILTER_COLUMNS))


def _base_statement(handoff_filter: Any) -> Select[Handoff]:
    """Handoffs of leads that are not deleted, matching a filter of the GraphQL filter's shape."""
    statement = select(Handoff).where(LEAD_IS_LIVE)
    if handoff_filter is not None:
        statement = statement.where(_filter_condition(handoff_filter))
    return statement


async def page_of_handoffs(
    session: AsyncSession, handoff_filter: Any, ordering: Ordering, page: PageRequest
) -> Page[Handoff]:
    statement = (
        _base_statement(handoff_filter)
        .where(*ordering.conditions(page))
        .order_by(*ordering.order_clauses(backward=page.backward))
        .limit(page.size + 1)
    )
    rows = (await session.execute(statement)).scalars().all()
    return ordering.page(rows, page)


async def count_handoffs(session: AsyncSession, handoff_filter: Any) -> int:
    statement = (
        _base_statement(handoff_filter)
        .with_only_columns(func.count(), maintain_column_froms=True)
        .order_by(None)
    )
    return int(await session.scalar(statement) or 0)


async def handoffs_by_ids(
    session: AsyncSession, handoff_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Handoff]:
    """Handoffs by id, except those of deleted leads."""
    statement = select(Handoff).where(Handoff.id.in_(handoff_ids), LEAD_IS_LIVE)
    return {handoff.id: handoff for handoff in (await session.execute(statement)).scalars()}


async def pages_of_handoffs_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID], page: PageRequest
) -> dict[uuid.UUID, Page[Handoff]]:
    """One page of handoffs per lead, newest first, in one statement."""
    return await pages_by_parent(
        session, Handoff, Handoff.lead_id, lead_ids, handoff_ordering(), page
    )


async def count_handoffs_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    return await counts_by_parent(session, Handoff.lead_id, lead_ids)


async def get_handoff_for_update(session: AsyncSession, handoff_id: uuid.UUID) -> Handoff | None:
    """A handoff of a lead that is not deleted, locked until the transaction ends."""
    statement = (
        select(Handoff)
        .where(Handoff.id == handoff_id, LEAD_IS_LIVE)
        .with_for_update(of=Handoff)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def pending_handoff_for_update(session: AsyncSession, lead_id: uuid.UUID) -> Handoff | None:
    """The lead's pending handoff (there is at most one), locked."""
    statement = (
        select(Handoff)
        .where(Handoff.lead_id == lead_id, Handoff.status == HandoffStatus.PENDING)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def latest_handoff_moment(session: AsyncSession, lead_id: uuid.UUID) -> datetime | None:
    """The latest time recorded on any handoff of the lead (handed, accepted or superseded)."""
    statement = select(
        func.max(func.greatest(Handoff.handed_at, Handoff.accepted_at, Handoff.superseded_at))
    ).where(Handoff.lead_id == lead_id)
    latest: datetime | None = await session.scalar(statement)
    return latest


async def is_team_member(session: AsyncSession, team_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    statement = select(
        select(TeamMembership.member_id)
        .where(TeamMembership.team_id == team_id, TeamMembership.member_id == member_id)
        .exists()
    )
    return bool(await session.scalar(statement))


# Assignment rules.


def _source_key(source: SqlColumn | str | None) -> ColumnElement[Any]:
    """The expression the one-rule-per-source unique index is on."""
    return func.lower(func.coalesce(source, ""))


async def list_assignment_rules(session: AsyncSession) -> Sequence[AssignmentRule]:
    """Source-specific rules by source (case-insensitively), then the rule for other sources."""
    statement = select(AssignmentRule).order_by(
        AssignmentRule.source.is_(None),
        func.lower(AssignmentRule.source),
        AssignmentRule.id,
    )
    return (await session.execute(statement)).scalars().all()


async def get_assignment_rule(
    session: AsyncSession, rule_id: uuid.UUID, *, for_update: bool = False
) -> AssignmentRule | None:
    statement = select(AssignmentRule).where(AssignmentRule.id == rule_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def assignment_rule_for_source_taken(
    session: AsyncSession, source: str | None, *, except_id: uuid.UUID | None = None
) -> bool:
    """Whether another rule has this source (compared case-insensitively; None: other sources)."""
    statement = select(
        select(AssignmentRule.id)
        .where(_source_key(AssignmentRule.source) == _source_key(source))
        .where(AssignmentRule.id != except_id if except_id is not None else true())
        .exists()
    )
    return bool(await session.scalar(statement))


async def matching_rule_for_update(
    session: AsyncSession, source: str | None
) -> AssignmentRule | None:
    """The active rule for a new lead's source, else the active rule for other sources; locked,
    so that concurrent creates take their round-robin turns one after the other."""
    conditions: list[ColumnElement[bool]] = [AssignmentRule.source.is_(None)]
    if source is not None:
        conditions.append(func.lower(AssignmentRule.source) == func.lower(source))
    statement = (
        select(AssignmentRule)
        .where(AssignmentRule.is_active.is_(True), or_(*conditions))
        .order_by(AssignmentRule.source.is_(None))
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def active_team_member_ids(session: AsyncSession, team_id: uuid.UUID) -> list[uuid.UUID]:
    """The team's active members, in member-id order."""
    statement = (
        select(Member.id)
        .join(
            TeamMembership,
            and_(
                TeamMembership.workspace_id == Member.workspace_id,
                TeamMembership.member_id == Member.id,
            ),
        )
        .where(TeamMembership.team_id == team_id, Member.is_active.is_(True))
        .order_by(Member.id)
    )
    return list((await session.execute(statement)).scalars())


async def record_turn(session: AsyncSession, rule: AssignmentRule, member_id: uuid.UUID) -> None:
    """Move a round-robin rule's position to `member_id`.

    A turn is not a change of the rule's settings: its version and updated_at stay, so an
    admin's expectedVersion is not made stale by leads being created.
    """
    await session.execute(
        update(AssignmentRule)
        .where(AssignmentRule.id == rule.id)
        .values(last_member_id=member_id, updated_at=AssignmentRule.updated_at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(rule, "last_member_id", member_id)
