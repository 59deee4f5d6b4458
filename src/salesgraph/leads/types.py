"""GraphQL types, inputs, filters and payloads of the lead domain."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from salesgraph.db.keyset import PageRequest
from salesgraph.errors import DomainError, python_name, validation
from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError, query_error
from salesgraph.graphql.filters import (
    DateFilter,
    DateTimeFilter,
    DecimalFilter,
    IDFilter,
    IntFilter,
    NullsOrder,
    OrderDirection,
    StringFilter,
)
from salesgraph.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    connection,
    page_request,
)
from salesgraph.graphql.scalars import JSONObject
from salesgraph.graphql.selection import connection_node_fields
from salesgraph.leads import models
from salesgraph.leads.repository import LeadQuery, SortOrder, lead_ordering, visit_ordering
from salesgraph.pipelines.types import Pipeline, Stage
from salesgraph.values import in_minor_units
from salesgraph.workspaces.types import Member, Team

if TYPE_CHECKING:
    from salesgraph.activities.types import ActivityConnection, ActivityFilter
    from salesgraph.handoffs.types import HandoffConnection
    from salesgraph.objections.types import Objection, ObjectionConnection, ObjectionFilter
    from salesgraph.timeline.types import TimelineConnection

LeadStatus = graphql_enum(
    models.LeadStatus,
    name="LeadStatus",
    description="Where a lead stands overall.",
    values={
        "OPEN": "Still being worked: it sits at a stage of its pipeline.",
        "WON": "The customer bought.",
        "LOST": "The customer will not buy (see lostReason).",
    },
)
Qualification = graphql_enum(
    models.Qualification,
    name="Qualification",
    description="The answer to one qualification question (need, budget, authority, timing).",
    values={
        "UNKNOWN": "Not established yet.",
        "MET": "Established: the lead qualifies on this point.",
        "NOT_MET": "Established: the lead does not qualify on this point.",
    },
)
VisitEntry = graphql_enum(
    models.VisitEntry,
    name="VisitEntry",
    description="How a lead came into a stage.",
    values={
        "CREATED": "The lead was created at this stage.",
        "FORWARD": "Moved here from a stage with a lower position.",
        "BACKWARD": "Moved here from a stage with a higher position.",
        "REOPENED": "Reopened here after being won or lost.",
    },
)
VisitExit = graphql_enum(
    models.VisitExit,
    name="VisitExit",
    description="How a lead left a stage. Directions compare stage positions at the time of "
    "the move, so reordering stages later does not rewrite them.",
    values={
        "FORWARD": "Moved to a stage with a higher position.",
        "BACKWARD": "Moved to a stage with a lower position.",
        "WON": "Won while at this stage.",
        "LOST": "Lost while at this stage.",
    },
)


@strawberry.type(description="An exact amount of money in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, as an exact decimal string.")
    currency: str = strawberry.field(description="ISO 4217 currency code, such as EUR.")


@strawberry.input(description="An exact amount of money in a currency.")
class MoneyInput:
    amount: Decimal = strawberry.field(
        description="Non-negative decimal string with at most the currency's minor units."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, such as EUR.")


@strawberry.type(
    description="Who made a change: a member, an integration's API key, or the system."
)
class Actor:
    member_id: strawberry.Private[uuid.UUID | None]
    api_key_id: strawberry.ID | None = strawberry.field(
        description="The API key the change was made with; null for system changes."
    )

    @strawberry.field(description="The member who made the change; null for integrations.")
    async def member(self, info: Info) -> Member | None:
        if self.member_id is None:
            return None
        row = await info.context.loaders.member_by_id.load(self.member_id)
        return Member.from_model(row) if row is not None else None


def actor_of(member_id: uuid.UUID | None, api_key_id: uuid.UUID | None) -> Actor:
    """The Actor of a row's (member, API key) pair; both null means the system."""
    return Actor(
        member_id=member_id,
        api_key_id=strawberry.ID(str(api_key_id)) if api_key_id is not None else None,
    )


@strawberry.type(
    description="One stay of a lead in a stage. Stage history is append-only: a visit is "
    "written when the lead enters and closed once when it leaves."
)
class StageVisit:
    id: strawberry.ID = strawberry.field(description="Unique id of the visit.")
    entered_at: datetime = strawberry.field(description="When the lead entered the stage.")
    entry: models.VisitEntry = strawberry.field(description="How the lead came in.")
    entered_by: Actor = strawberry.field(description="Who moved the lead in.")
    entry_reason: str | None = strawberry.field(description="Why, when it was said.")
    exited_at: datetime | None = strawberry.field(description="When it left; null while there.")
    exit: models.VisitExit | None = strawberry.field(description="How it left; null while there.")
    exited_by: Actor | None = strawberry.field(description="Who moved it out.")
    exit_reason: str | None = strawberry.field(description="Why, when it was said.")
    stage_position: int = strawberry.field(
        description="The stage's position when the lead entered it."
    )
    duration_seconds: float | None = strawberry.field(
        description="Length of the visit in seconds; null while it lasts."
    )
    stage_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The stage (possibly archived or renamed since).")
    async def stage(self, info: Info) -> Stage:
        row = await info.context.loaders.stage_by_id.load(self.stage_id)
        assert row is not None  # history references stages by foreign key
        return Stage.from_model(row)

    @classmethod
    def from_model(cls, row: models.StageVisit) -> StageVisit:
        exited = row.exited_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            entered_at=row.entered_at,
            entry=row.entry,
            entered_by=actor_of(row.entered_by_member_id, row.entered_by_api_key_id),
            entry_reason=row.entry_reason,
            exited_at=row.exited_at,
            exit=row.exit,
            exited_by=(
                actor_of(row.exited_by_member_id, row.exited_by_api_key_id) if exited else None
            ),
            exit_reason=row.exit_reason,
            stage_position=row.stage_position,
            duration_seconds=(
                (row.exited_at - row.entered_at).total_seconds()
                if row.exited_at is not None
                else None
            ),
            stage_id=row.stage_id,
        )


@strawberry.type(description="A page of a lead's stage history.")
class StageVisitConnection(Connection[StageVisit]):
    pass


@strawberry.type(description="A potential customer moving through a pipeline.")
class Lead:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    title: str = strawberry.field(description="Short name of the opportunity.")
    company_name: str | None = strawberry.field(description="The customer's company.")
    contact_name: str | None = strawberry.field(description="The person to talk to.")
    contact_email: str | None = strawberry.field(description="Their email address.")
    contact_phone: str | None = strawberry.field(description="Their phone number.")
    source: str | None = strawberry.field(
        description="Where the lead came from (web, referral, event, ...)."
    )
    value: Money | None = strawberry.field(description="Expected deal size; null when unknown.")
    expected_close_date: date | None = strawberry.field(
        description="The day the lead is expected to close, as its owner estimates it; "
        "forecasts group open value by its month. Null when not estimated."
    )
    need: models.Qualification = strawberry.field(description="Do they need what we sell?")
    budget: models.Qualification = strawberry.field(description="Can they afford it?")
    authority: models.Qualification = strawberry.field(description="Are we talking to who decides?")
    timing: models.Qualification = strawberry.field(description="Do they mean to buy soon?")
    score: int | None = strawberry.field(description="Qualification score, 0 to 100.")
    status: models.LeadStatus = strawberry.field(description="OPEN, WON or LOST.")
    lost_reason: str | None = strawberry.field(description="Why it was lost, when LOST.")
    closed_at: datetime | None = strawberry.field(
        description="When it was won or lost; null while open."
    )
    stage_entered_at: datetime = strawberry.field(description="When it entered its current stage.")
    custom_fields: JSONObject = strawberry.field(
        description="The workspace's own fields: a flat JSON object of strings, numbers, "
        "booleans, nulls and lists of those."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a "
        "change made on stale data."
    )
    created_at: datetime = strawberry.field(description="When the lead was created.")
    updated_at: datetime = strawberry.field(description="When the lead last changed.")
    deleted_at: datetime | None = strawberry.field(
        description="When the lead was deleted; deleted leads are only seen in mutation results."
    )
    next_follow_up_at: datetime | None = strawberry.field(
        description="The earliest due time of its planned activities; null when no next step "
        "is planned."
    )
    last_activity_at: datetime | None = strawberry.field(
        description="When its latest completed activity happened; null before the first."
    )
    cadence_paused_at: datetime | None = strawberry.field(
        description="When its follow-up cadence was paused; null while the cadence runs."
    )
    pipeline_id: strawberry.Private[uuid.UUID]
    stage_id: strawberry.Private[uuid.UUID]
    owner_id: strawberry.Private[uuid.UUID | None]
    team_id: strawberry.Private[uuid.UUID | None]
    referred_by_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The pipeline the lead moves through.")
    async def pipeline(self, info: Info) -> Pipeline:
        row = await info.context.loaders.pipeline_by_id.load(self.pipeline_id)
        assert row is not None  # foreign key
        return Pipeline.from_model(row)

    @strawberry.field(
        description="The current stage; for a won or lost lead, the stage it was closed at."
    )
    async def stage(self, info: Info) -> Stage:
        row = await info.context.loaders.stage_by_id.load(self.stage_id)
        assert row is not None  # foreign key
        return Stage.from_model(row)

    @strawberry.field(description="The member responsible for the lead.")
    async def owner(self, info: Info) -> Member | None:
        if self.owner_id is None:
            return None
        row = await info.context.loaders.member_by_id.load(self.owner_id)
        return Member.from_model(row) if row is not None else None

    @strawberry.field(description="The team responsible for the lead.")
    async def team(self, info: Info) -> Team | None:
        if self.team_id is None:
            return None
        row = await info.context.loaders.team_by_id.load(self.team_id)
        return Team.from_model(row) if row is not None else None

    @strawberry.field(description="The lead that referred this one; null if none or deleted.")
    async def referred_by(self, info: Info) -> Lead | None:
        if self.referred_by_id is None:
            return None
        row = await info.context.loaders.lead_by_id.load(self.referred_by_id)
        return Lead.from_model(row) if row is not None else None

    @strawberry.field(description="Every stay in a stage, oldest first.")
    async def stage_history(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> StageVisitConnection:
        page = page_arguments(info, first, after, last, before)
        try:
            visit_ordering().check(page)
        except DomainError as error:
            raise query_error(error) from None
        lead_id = uuid.UUID(self.id)
        result = await info.context.loaders.visits_by_lead_id.load((lead_id, page))
        loaders = info.context.loaders

        async def count() -> int:
            return await loaders.visit_count_by_lead_id.load(lead_id)

        return connection(StageVisitConnection, result, StageVisit.from_model, count)

    @strawberry.field(
        description="Its activities, newest first (by occurredAt, else dueAt); deleted ones "
        "are left out."
    )
    async def activities(
        self,
        info: Info,
        filter: Annotated[
            Annotated[ActivityFilter, strawberry.lazy("salesgraph.activities.types")] | None,
            strawberry.argument(description="Only activities that match."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Annotated[ActivityConnection, strawberry.lazy("salesgraph.activities.types")]:
        from salesgraph.activities.types import lead_activities

        return await lead_activities(info, uuid.UUID(self.id), filter, first, after, last, before)

    @strawberry.field(description="Its objections, newest first (by raisedAt).")
    async def objections(
        self,
        info: Info,
        filter: Annotated[
            Annotated[ObjectionFilter, strawberry.lazy("salesgraph.objections.types")] | None,
            strawberry.argument(description="Only objections that match."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Annotated[ObjectionConnection, strawberry.lazy("salesgraph.objections.types")]:
        from salesgraph.objections.types import lead_objections

        return await lead_objections(info, uuid.UUID(self.id), filter, first, after, last, before)

    @strawberry.field(description="Its objections still OPEN (not settled), oldest first.")
    async def open_objections(
        self, info: Info
    ) -> list[Annotated[Objection, strawberry.lazy("salesgraph.objections.types")]]:
        from salesgraph.objections.types import lead_open_objections

        return await lead_open_objections(info, uuid.UUID(self.id))

    @strawberry.field(description="Its handoffs between owners and teams, newest first.")
    async def handoffs(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Annotated[HandoffConnection, strawberry.lazy("salesgraph.handoffs.types")]:
        from salesgraph.handoffs.types import lead_handoffs

        return await lead_handoffs(info, uuid.UUID(self.id), first, after, last, before)

    @strawberry.field(
        description="Everything that happened to the lead, newest first: its creation, stage "
        "changes, wins, losses, activities, objections and handoffs, from the domain events "
        "written with each change."
    )
    async def timeline(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Annotated[TimelineConnection, strawberry.lazy("salesgraph.timeline.types")]:
        from salesgraph.timeline.types import lead_timeline

        return await lead_timeline(info, uuid.UUID(self.id), first, after, last, before)

    @classmethod
    def from_model(cls, row: models.Lead) -> Lead:
        """The GraphQL object of a row. A list read may have loaded only the columns its query
        selects: the others are None here, and never resolved."""
        loaded = row.__dict__
        amount, currency = loaded.get("value_amount"), loaded.get("value_currency")
        custom_fields = loaded.get("custom_fields")
        return cls(
            id=strawberry.ID(str(row.id)),
            title=loaded.get("title"),  # type: ignore[arg-type]
            company_name=loaded.get("company_name"),
            contact_name=loaded.get("contact_name"),
            contact_email=loaded.get("contact_email"),
            contact_phone=loaded.get("contact_phone"),
            source=loaded.get("source"),
            value=(
                Money(amount=in_minor_units(amount, currency), currency=currency)
                if amount is not None and currency is not None
                else None
            ),
            expected_close_date=loaded.get("expected_close_date"),
            need=loaded.get("need"),  # type: ignore[arg-type]
            budget=loaded.get("budget"),  # type: ignore[arg-type]
            authority=loaded.get("authority"),  # type: ignore[arg-type]
            timing=loaded.get("timing"),  # type: ignore[arg-type]
            score=loaded.get("score"),
            status=loaded.get("status"),  # type: ignore[arg-type]
            lost_reason=loaded.get("lost_reason"),
            closed_at=loaded.get("closed_at"),
            stage_entered_at=loaded.get("stage_entered_at"),  # type: ignore[arg-type]
            custom_fields=JSONObject(custom_fields) if custom_fields is not None else None,  # type: ignore[arg-type]
            version=loaded.get("version"),  # type: ignore[arg-type]
            created_at=loaded.get("created_at"),  # type: ignore[arg-type]
            updated_at=loaded.get("updated_at"),  # type: ignore[arg-type]
            deleted_at=loaded.get("deleted_at"),
            next_follow_up_at=loaded.get("next_follow_up_at"),
            last_activity_at=loaded.get("last_activity_at"),
            cadence_paused_at=loaded.get("cadence_paused_at"),
            pipeline_id=loaded.get("pipeline_id"),  # type: ignore[arg-type]
            stage_id=loaded.get("stage_id"),  # type: ignore[arg-type]
            owner_id=loaded.get("owner_id"),
            team_id=loaded.get("team_id"),
            referred_by_id=loaded.get("referred_by_id"),
        )


# Columns a Lead field reads, where they are not the column of the field's own name.
_FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "value": ("value_amount", "value_currency"),
    "pipeline": ("pipeline_id",),
    "stage": ("stage_id",),
    "owner": ("owner_id",),
    "team": ("team_id",),
    "referredBy": ("referred_by_id",),
}


def lead_columns(info: Info) -> frozenset[str]:
    """The lead columns a list's selection needs (its ordering adds its own keys)."""
    columns: set[str] = set()
    for name in connection_node_fields(info):
        columns.update(_FIELD_COLUMNS.get(name, (python_name(name),)))
    return frozenset(columns & LEAD_COLUMN_NAMES)


LEAD_COLUMN_NAMES = frozenset(column.key for column in models.Lead.__table__.columns)


@strawberry.type(description="A page of leads.")
class LeadConnection(Connection[Lead]):
    pass


@strawberry.input(description="Conditions on a lead status; all given conditions must hold.")
class LeadStatusFilter:
    eq: models.LeadStatus | None = strawberry.field(default=None, description="Equal to.")
    neq: models.LeadStatus | None = strawberry.field(default=None, description="Not equal to.")
    in_: list[models.LeadStatus] | None = strawberry.field(
        default=None, name="in", description="One of."
    )


@strawberry.input(
    description="Which leads to list. All given conditions must hold; and/or/not combine "
    "nested filters (up to 5 levels)."
)
class LeadFilter:
    id: IDFilter | None = strawberry.field(default=None, description="The lead's id.")
    pipeline_id: IDFilter | None = strawberry.field(default=None, description="Its pipeline.")
    stage_id: IDFilter | None = strawberry.field(default=None, description="Its current stage.")
    status: LeadStatusFilter | None = strawberry.field(default=None, description="Its status.")
    owner_id: IDFilter | None = strawberry.field(default=None, description="Its owner.")
    team_id: IDFilter | None = strawberry.field(default=None, description="Its team.")
    owner_in_team: strawberry.ID | None = strawberry.field(
        default=None, description="Owned by a member of this team."
    )
    source: StringFilter | None = strawberry.field(default=None, description="Its source.")
    title: StringFilter | None = strawberry.field(default=None, description="Its title.")
    company_name: StringFilter | None = strawberry.field(default=None, description="Company.")
    contact_name: StringFilter | None = strawberry.field(default=None, description="Contact.")
    contact_email: StringFilter | None = strawberry.field(default=None, description="Email.")
    value_amount: DecimalFilter | None = strawberry.field(
        default=None, name="value", description="Amount of its value (in its own currency)."
    )
    value_currency: StringFilter | None = strawberry.field(
        default=None, name="currency", description="Currency of its value."
    )
    expected_close_date: DateFilter | None = strawberry.field(
        default=None,
        description="Its expected close date (is: NULL finds leads without an estimate).",
    )
    score: IntFilter | None = strawberry.field(default=None, description="Its score.")
    referred_by_id: IDFilter | None = strawberry.field(
        default=None, description="The lead that referred it."
    )
    created_at: DateTimeFilter | None = strawberry.field(default=None, description="Creation.")
    updated_at: DateTimeFilter | None = strawberry.field(default=None, description="Last change.")
    closed_at: DateTimeFilter | None = strawberry.field(default=None, description="Win or loss.")
    stage_entered_at: DateTimeFilter | None = strawberry.field(
        default=None, description="Entry into its current stage."
    )
    next_follow_up_at: DateTimeFilter | None = strawberry.field(
        default=None,
        description="Its next planned step (is: NULL finds leads with no next step planned).",
    )
    last_activity_at: DateTimeFilter | None = strawberry.field(
        default=None, description="Its latest completed activity."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Text contained (case-insensitively) in the title, company, contact name "
        "or contact email.",
    )
    and_: list[LeadFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these filters holds."
    )
    or_: list[LeadFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters holds."
    )
    not_: LeadFilter | None = strawberry.field(
        default=None, name="not", description="This filter does not hold."
    )


@strawberry.enum(description="Fields leads can be sorted by.")
class LeadOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="Creation time.")
    UPDATED_AT = strawberry.enum_value("UPDATED_AT", description="Time of the last change.")
    STAGE_ENTERED_AT = strawberry.enum_value(
        "STAGE_ENTERED_AT", description="Entry into the current stage."
    )
    CLOSED_AT = strawberry.enum_value("CLOSED_AT", description="Time it was won or lost.")
    TITLE = strawberry.enum_value("TITLE", description="Title, alphabetically.")
    COMPANY_NAME = strawberry.enum_value("COMPANY_NAME", description="Company, alphabetically.")
    VALUE = strawberry.enum_value(
        "VALUE", description="Value amount (whatever the currency: filter by currency first)."
    )
    EXPECTED_CLOSE_DATE = strawberry.enum_value(
        "EXPECTED_CLOSE_DATE", description="Expected close date."
    )
    SCORE = strawberry.enum_value("SCORE", description="Qualification score.")
    NEXT_FOLLOW_UP_AT = strawberry.enum_value(
        "NEXT_FOLLOW_UP_AT", description="Due time of the next planned step."
    )
    LAST_ACTIVITY_AT = strawberry.enum_value(
        "LAST_ACTIVITY_AT", description="Time of the latest completed activity."
    )


@strawberry.input(description="One sort key of a lead list.")
class LeadOrder:
    field: LeadOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="ASC or DESC."
    )
    nulls: NullsOrder = strawberry.field(
        default=NullsOrder.LAST, description="Whether leads without a value come first or last."
    )


def page_arguments(
    info: Info, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    try:
        return page_request(info, first, after, last, before)
    except DomainError as error:
        raise query_error(error) from None


def lead_list_arguments(
    filter: LeadFilter | None,
    order_by: list[LeadOrder] | None,
    *,
    open_only: bool = False,
) -> tuple[LeadQuery, Any]:
    if order_by is not None and not 1 <= len(order_by) <= 3:
        raise query_error(validation("sort by 1 to 3 fields", "orderBy"))
    orders = [
        SortOrder(
            order.field.name,
            descending=order.direction == OrderDirection.DESC,
            nulls_first=order.nulls == NullsOrder.FIRST,
        )
        for order in order_by or ()
    ]
    return LeadQuery(filter, open_only=open_only), lead_ordering(orders)


async def stage_leads(
    info: Info,
    stage_id: uuid.UUID,
    filter: LeadFilter | None,
    order_by: list[LeadOrder] | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    include_closed: bool,
) -> LeadConnection:
    """A board column: one page of a stage's leads, batched with the other stages'."""
    page = page_arguments(info, first, after, last, before)
    query, ordering = lead_list_arguments(filter, order_by, open_only=not include_closed)
    loaders = info.context.loaders
    try:
        ordering.check(page)
        result = await loaders.leads_by_stage_id.load(
            (stage_id, (query, ordering, page, lead_columns(info)))
        )
    except DomainError as error:  # a bad cursor, or a filter that cannot be built
        raise query_error(error) from None

    async def count() -> int:
        return await loaders.lead_count_by_stage_id.load((stage_id, query))

    return connection(LeadConnection, result, Lead.from_model, count)


# Inputs and payloads of the lead mutations.


@strawberry.input(description="A new lead.")
class CreateLeadInput:
    title: str = strawberry.field(description="Short name of the opportunity.")
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its pipeline; the workspace's first pipeline when omitted."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its first stage; the pipeline's first stage when omitted."
    )
    company_name: str | None = strawberry.field(default=None, description="Company.")
    contact_name: str | None = strawberry.field(default=None, description="Contact person.")
    contact_email: str | None = strawberry.field(default=None, description="Their email.")
    contact_phone: str | None = strawberry.field(default=None, description="Their phone.")
    source: str | None = strawberry.field(default=None, description="Where it came from.")
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Owner member.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="Owning team.")
    value: MoneyInput | None = strawberry.field(default=None, description="Expected deal size.")
    expected_close_date: date | None = strawberry.field(
        default=None, description="The day it is expected to close (years 1900 to 2200)."
    )
    need: models.Qualification = strawberry.field(
        default=models.Qualification.UNKNOWN, description="Need."
    )
    budget: models.Qualification = strawberry.field(
        default=models.Qualification.UNKNOWN, description="Budget."
    )
    authority: models.Qualification = strawberry.field(
        default=models.Qualification.UNKNOWN, description="Authority."
    )
    timing: models.Qualification = strawberry.field(
        default=models.Qualification.UNKNOWN, description="Timing."
    )
    score: int | None = strawberry.field(default=None, description="Score, 0 to 100.")
    referred_by_id: strawberry.ID | None = strawberry.field(
        default=None, description="The lead that referred this one."
    )
    custom_fields: JSONObject | None = strawberry.field(
        default=None, description="The workspace's own fields (a flat JSON object)."
    )


@strawberry.input(description="Changes to a lead; omitted fields stay as they are, null clears.")
class UpdateLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Title.")
    company_name: str | None = strawberry.field(default=strawberry.UNSET, description="Company.")
    contact_name: str | None = strawberry.field(default=strawberry.UNSET, description="Contact.")
    contact_email: str | None = strawberry.field(default=strawberry.UNSET, description="Email.")
    contact_phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone.")
    source: str | None = strawberry.field(default=strawberry.UNSET, description="Source.")
    value: MoneyInput | None = strawberry.field(default=strawberry.UNSET, description="Value.")
    expected_close_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="Expected close date (years 1900 to 2200)."
    )
    need: models.Qualification | None = strawberry.field(
        default=strawberry.UNSET, description="Need."
    )
    budget: models.Qualification | None = strawberry.field(
        default=strawberry.UNSET, description="Budget."
    )
    authority: models.Qualification | None = strawberry.field(
        default=strawberry.UNSET, description="Authority."
    )
    timing: models.Qualification | None = strawberry.field(
        default=strawberry.UNSET, description="Timing."
    )
    score: int | None = strawberry.field(default=strawberry.UNSET, description="Score, 0 to 100.")
    referred_by_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The lead that referred this one."
    )
    custom_fields: JSONObject | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the custom fields ({} clears them)."
    )


@strawberry.input(description="A move of an open lead to another stage of its pipeline.")
class MoveLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    stage_id: strawberry.ID = strawberry.field(description="The stage to move to.")
    reason: str | None = strawberry.field(default=None, description="Why, for the history.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="Marks an open lead as won.")
class WinLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    reason: str | None = strawberry.field(default=None, description="Note for the history.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="Marks an open lead as lost.")
class LoseLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    reason: str = strawberry.field(description="Why it was lost (required).")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="Reopens a won or lost lead.")
class ReopenLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Stage to reopen at; the stage it was closed at when omitted."
    )
    reason: str | None = strawberry.field(default=None, description="Why, for the history.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="A new owner and/or team for a lead; omitted stays, null clears.")
class ReassignLeadInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The new owner."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The new team."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="A lead to soft-delete or restore.")
class LeadVersionInput:
    id: strawberry.ID = strawberry.field(description="The lead.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.type(description="Result of a lead mutation.")
class LeadPayload:
    lead: Lead | None = strawberry.field(description="The lead as changed; null on errors.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


def money_value(value: MoneyInput | None) -> Any:
    from salesgraph.leads.service import Money as ServiceMoney

    if value is None:
        return None
    return ServiceMoney(amount=Decimal(value.amount), currency=value.currency)
