"""All SQL of the lead domain. Sessions are workspace-scoped (salesgraph.db.tenancy)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    DateTime,
    Select,
    Uuid,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, load_only
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.base import SqlColumn
from salesgraph.db.filters import compare, like_pattern
from salesgraph.db.keyset import Ordering, Page, PageRequest, SortKey
from salesgraph.errors import api_name, validation
from salesgraph.leads.models import Lead, LeadStatus, StageVisit
from salesgraph.workspaces.models import TeamMembership

# Filter fields and the columns they compare.
FILTER_COLUMNS: dict[str, SqlColumn] = {
    "id": Lead.id,
    "pipeline_id": Lead.pipeline_id,
    "stage_id": Lead.stage_id,
    "status": Lead.status,
    "owner_id": Lead.owner_id,
    "team_id": Lead.team_id,
    "source": Lead.source,
    "title": Lead.title,
    "company_name": Lead.company_name,
    "contact_name": Lead.contact_name,
    "contact_email": Lead.contact_email,
    "value_amount": Lead.value_amount,
    "value_currency": Lead.value_currency,
    "expected_close_date": Lead.expected_close_date,
    "score": Lead.score,
    "referred_by_id": Lead.referred_by_id,
    "created_at": Lead.created_at,
    "updated_at": Lead.updated_at,
    "closed_at": Lead.closed_at,
    "stage_entered_at": Lead.stage_entered_at,
    "next_follow_up_at": Lead.next_follow_up_at,
    "last_activity_at": Lead.last_activity_at,
}
# Filter fields whose GraphQL name is not the camelCase of the column's (error paths use it).
FILTER_FIELD_NAMES = {"value_amount": "value", "value_currency": "currency"}
MAX_FILTER_DEPTH = 5

# Sort fields: (column, attribute, cursor kind, nullable).
SORT_COLUMNS: dict[str, tuple[SqlColumn, str, str, bool]] = {
    "CREATED_AT": (Lead.created_at, "created_at", "datetime", False),
    "UPDATED_AT": (Lead.updated_at, "updated_at", "datetime", False),
    "STAGE_ENTERED_AT": (Lead.stage_entered_at, "stage_entered_at", "datetime", False),
    "CLOSED_AT": (Lead.closed_at, "closed_at", "datetime", True),
    "TITLE": (Lead.title, "title", "str", False),
    "COMPANY_NAME": (Lead.company_name, "company_name", "str", True),
    "VALUE": (Lead.value_amount, "value_amount", "decimal", True),
    "EXPECTED_CLOSE_DATE": (Lead.expected_close_date, "expected_close_date", "date", True),
    "SCORE": (Lead.score, "score", "int", True),
    "NEXT_FOLLOW_UP_AT": (Lead.next_follow_up_at, "next_follow_up_at", "datetime", True),
    "LAST_ACTIVITY_AT": (Lead.last_activity_at, "last_activity_at", "datetime", True),
}


@dataclass(frozen=True, slots=True)
class SortOrder:
    """One requested sort field."""

    field: str
    descending: bool = False
    nulls_first: bool = False


DEFAULT_ORDER = (SortOrder("CREATED_AT", descending=True),)


def lead_ordering(orders: Sequence[SortOrder]) -> Ordering:
    keys = []
    for order in orders or DEFAULT_ORDER:
        column, attribute, kind, nullable = SORT_COLUMNS[order.field]
        keys.append(
            SortKey(
                order.field, column, attribute, kind, order.descending, order.nulls_first, nullable
            )
        )
    last_descending = keys[-1].descending
    keys.append(SortKey("ID", Lead.id, "id", "uuid", descending=last_descending))
    return Ordering(keys)


class LeadQuery:
    """What a lead list asks for: a filter tree (an object of the GraphQL filter's shape), and
    whether only open leads count. Deleted leads are never listed.

    Equal queries compare and hash equal (by the filter's printed form), so DataLoader keys
    that carry the same query batch together.
    """

    __slots__ = ("filter", "fingerprint", "open_only")

    def __init__(self, filter: Any = None, *, open_only: bool = False):
        self.filter = filter
        self.open_only = open_only
        self.fingerprint = repr((filter, open_only))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LeadQuery) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


def _filter_condition(lead_filter: Any, path: tuple[str, ...], depth: int) -> ColumnElement[bool]:
    if depth > MAX_FILTER_DEPTH:
        raise validation(f"filters nest at most {MAX_FILTER_DEPTH} levels deep", path)
    conditions: list[ColumnElement[bool]] = []
    for name, column in FILTER_COLUMNS.items():
        comparison = getattr(lead_filter, name, None)
        if comparison is not None:
            field = FILTER_FIELD_NAMES.get(name) or api_name(name)
            conditions.append(compare(column, comparison, (*path, field)))
    search = getattr(lead_filter, "search", None)
    if search is not None and "\x00" in search:
        raise validation("must not contain NUL characters", (*path, "search"))
    if search is not None and search.strip():
        pattern = like_pattern(search.strip())
        conditions.append(
            or_(
                Lead.title.ilike(pattern, escape="\\"),
                Lead.company_name.ilike(pattern, escape="\\"),
                Lead.contact_name.ilike(pattern, escape="\\"),
                Lead.contact_email.ilike(pattern, escape="\\"),
            )
        )
    team_id = getattr(lead_filter, "owner_in_team", None)
    if team_id is not None:
        try:
            team_id = uuid.UUID(str(team_id))
        except ValueError:
            raise validation(f"{team_id!r} is not a valid id", (*path, "ownerInTeam")) from None
        conditions.append(
            Lead.owner_id.in_(
                select(TeamMembership.member_id).where(TeamMembership.team_id == team_id)
            )
        )
    for index, child in enumerate(getattr(lead_filter, "and_", None) or ()):
        conditions.append(_filter_condition(child, (*path, "and", str(index)), depth + 1))
    alternatives = getattr(lead_filter, "or_", None)
    if alternatives:
        conditions.append(
            or_(
                *(
                    _filter_condition(child, (*path, "or", str(index)), depth + 1)
                    for index, child in enumerate(alternatives)
                )
            )
        )
    negated = getattr(lead_filter, "not_", None)
    if negated is not None:
        # IS NOT TRUE, not NOT: a lead matches `not` exactly when it does not match the inner
        # filter, also when the inner condition is NULL (a NULL column, e.g. no owner).
        conditions.append(_filter_condition(negated, (*path, "not"), depth + 1).is_not(True))
    return and_(*conditions) if conditions else true()


def _base_statement(query: LeadQuery) -> Select[Lead]:
    statement = select(Lead).where(Lead.deleted_at.is_(None))
    if query.open_only:
        statement = statement.where(Lead.status == LeadStatus.OPEN)
    if query.filter is not None:
        statement = statement.where(_filter_condition(query.filter, ("filter",), 1))
    return statement


def _only(entity: Any, ordering: Ordering, columns: frozenset[str] | None) -> list[Any]:
    """Loader options that read just `columns` (plus the keys and sort keys), or everything."""
    if columns is None:
        return []
    needed = columns | {key.attribute for key in ordering.keys} | {"workspace_id", "id"}
    return [load_only(*(getattr(entity, name) for name in sorted(needed)))]


async def page_of_leads(
    session: AsyncSession,
    query: LeadQuery,
    ordering: Ordering,
    page: PageRequest,
    columns: frozenset[str] | None = None,
) -> Page[Lead]:
    """One page of leads; `columns` limits what is read to what the caller returns."""
    statement = (
        _base_statement(query)
        .options(*_only(Lead, ordering, columns))
        .where(*ordering.conditions(page))
        .order_by(*ordering.order_clauses(backward=page.backward))
        .limit(page.size + 1)
    )
    rows = (await session.execute(statement)).scalars().all()
    return ordering.page(rows, page)


async def count_leads(session: AsyncSession, query: LeadQuery) -> int:
    statement = _base_statement(query).with_only_columns(func.count()).order_by(None)
    return int(await session.scalar(statement) or 0)


async def pages_of_leads_by_stage(
    session: AsyncSession,
    stage_ids: Sequence[uuid.UUID],
    query: LeadQuery,
    ordering: Ordering,
    page: PageRequest,
    columns: frozenset[str] | None = None,
) -> dict[uuid.UUID, Page[Lead]]:
    """One page of leads per stage, in one statement.

    A LATERAL subquery per stage reads at most a page (plus one) along the sort order, so a
    column costs the same however many leads the stage holds.
    """
    wanted = (
        func.unnest(cast(list(stage_ids), ARRAY(Uuid()))).table_valued("stage_id").render_derived()
    )
    rank = func.row_number().over(order_by=ordering.order_clauses(backward=page.backward))
    per_stage = (
        _base_statement(query)
        .add_columns(rank.label("rank"))
        .where(Lead.stage_id == wanted.c.stage_id, *ordering.conditions(page))
        .order_by(*ordering.order_clauses(backward=page.backward))
        .limit(page.size + 1)
        .lateral("page")
    )
    ranked = aliased(Lead, per_stage)
    statement = (
        select(ranked)
        .select_from(wanted)
        .join(per_stage, true())
        .options(*_only(ranked, ordering, None if columns is None else columns | {"stage_id"}))
        .order_by(per_stage.c.stage_id, per_stage.c.rank)
    )
    grouped: dict[uuid.UUID, list[Lead]] = {stage_id: [] for stage_id in stage_ids}
    for lead in (await session.execute(statement)).scalars():
        grouped[lead.stage_id].append(lead)
    return {stage_id: ordering.page(rows, page) for stage_id, rows in grouped.items()}


async def count_leads_by_stage(
    session: AsyncSession, stage_ids: Sequence[uuid.UUID], query: LeadQuery
) -> dict[uuid.UUID, int]:
    statement = (
        _base_statement(query)
        .where(Lead.stage_id.in_(stage_ids))
        .with_only_columns(Lead.stage_id, func.count())
        .group_by(Lead.stage_id)
        .order_by(None)
    )
    counts = {stage_id: 0 for stage_id in stage_ids}
    for stage_id, count in (await session.execute(statement)).all():
        counts[stage_id] = count
    return counts


def lead_is_live(workspace_id: SqlColumn, lead_id: SqlColumn) -> ColumnElement[bool]:
    """The lead a row points to (by these columns) is not deleted: the condition that keeps a
    deleted lead's activities, objections and handoffs out of every list."""
    return exists().where(
        Lead.workspace_id == workspace_id, Lead.id == lead_id, Lead.deleted_at.is_(None)
    )


async def get_lead(
    session: AsyncSession,
    lead_id: uuid.UUID,
    *,
    for_update: bool = False,
    include_deleted: bool = False,
) -> tuple[Lead, Any] | None:
    """The lead and the transaction's timestamp (one round trip for both)."""
    statement = select(Lead, func.now()).where(Lead.id == lead_id)
    if not include_deleted:
        statement = statement.where(Lead.deleted_at.is_(None))
    if for_update:
        statement = statement.with_for_update(of=Lead)
    row = (await session.execute(statement)).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def leads_by_ids(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Lead]:
    statement = select(Lead).where(Lead.id.in_(lead_ids), Lead.deleted_at.is_(None))
    return {lead.id: lead for lead in (await session.execute(statement)).scalars()}


async def open_visit(session: AsyncSession, lead_id: uuid.UUID) -> StageVisit | None:
    statement = (
        select(StageVisit)
        .where(StageVisit.lead_id == lead_id, StageVisit.exited_at.is_(None))
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


def visit_ordering() -> Ordering:
    return Ordering(
        [
            SortKey("ENTERED_AT", StageVisit.entered_at, "entered_at", "datetime"),
            SortKey("ID", StageVisit.id, "id", "uuid"),
        ]
    )


async def pages_of_visits_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID], page: PageRequest
) -> dict[uuid.UUID, Page[StageVisit]]:
    """One page of stage history per lead, oldest first, in one statement."""
    ordering = visit_ordering()
    rank = (
        func.row_number()
        .over(
            partition_by=StageVisit.lead_id,
            order_by=ordering.order_clauses(backward=page.backward),
        )
        .label("rank")
    )
    inner = (
        select(StageVisit)
        .where(StageVisit.lead_id.in_(lead_ids), *ordering.conditions(page))
        .add_columns(rank)
        .subquery()
    )
    ranked = aliased(StageVisit, inner)
    statement = (
        select(ranked).where(inner.c.rank <= page.size + 1).order_by(inner.c.lead_id, inner.c.rank)
    )
    grouped: dict[uuid.UUID, list[StageVisit]] = {lead_id: [] for lead_id in lead_ids}
    for visit in (await session.execute(statement)).scalars():
        grouped[visit.lead_id].append(visit)
    return {lead_id: ordering.page(rows, page) for lead_id, rows in grouped.items()}


async def count_visits_by_lead(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    statement = (
        select(StageVisit.lead_id, func.count())
        .where(StageVisit.lead_id.in_(lead_ids))
        .group_by(StageVisit.lead_id)
    )
    counts = dict.fromkeys(lead_ids, 0)
    for lead_id, count in (await session.execute(statement)).all():
        counts[lead_id] = count
    return counts


async def count_open_leads_at(session: AsyncSession, stage_id: uuid.UUID) -> int:
    """Open leads at a stage, soft-deleted ones included (they return there when restored)."""
    statement = (
        select(func.count())
        .select_from(Lead)
        .where(Lead.stage_id == stage_id, Lead.status == LeadStatus.OPEN)
    )
    return int(await session.scalar(statement) or 0)


async def visits_at(
    session: AsyncSession, moments: Sequence[tuple[uuid.UUID, datetime]]
) -> dict[tuple[uuid.UUID, datetime], StageVisit | None]:
    """The stage visit each lead was in at each moment, in one statement.

    That is the latest visit entered at or before the moment; after a win or loss, the visit
    the lead was closed in. None when the lead did not exist yet at that moment.
    """
    if not moments:
        return {}
    wanted = (
        func.unnest(
            cast([lead_id for lead_id, _ in moments], ARRAY(Uuid())),
            cast([at for _, at in moments], ARRAY(DateTime(timezone=True))),
        )
        .table_valued("lead_id", "at")
        .render_derived()
    )
    latest = (
        select(StageVisit)
        .where(StageVisit.lead_id == wanted.c.lead_id, StageVisit.entered_at <= wanted.c.at)
        .order_by(StageVisit.entered_at.desc(), StageVisit.id.desc())
        .limit(1)
        .lateral("visit")
    )
    visit = aliased(StageVisit, latest)
    statement = (
        select(wanted.c.lead_id, wanted.c.at, visit).select_from(wanted).join(latest, true())
    )
    found: dict[tuple[uuid.UUID, datetime], StageVisit | None] = dict.fromkeys(moments)
    for lead_id, at, row in (await session.execute(statement)).all():
        found[(lead_id, at)] = row
    return found
