"""GraphQL types, inputs, filters and payloads of the objection domain.

The lead domain's types are resolved lazily (leads list their objections, objections name
their lead), and the two helpers at the end give the Lead type its objection fields.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from salesgraph.db.keyset import PageRequest
from salesgraph.errors import DomainError
from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError, query_error
from salesgraph.graphql.filters import DateTimeFilter, IDFilter
from salesgraph.graphql.pagination import Connection, connection, page_request
from salesgraph.objections import models
from salesgraph.objections.repository import ObjectionListQuery, objection_ordering
from salesgraph.pipelines.types import Stage

if TYPE_CHECKING:
    from salesgraph.leads.types import Actor, Lead

LazyActor = Annotated["Actor", strawberry.lazy("salesgraph.leads.types")]
LazyLead = Annotated["Lead", strawberry.lazy("salesgraph.leads.types")]

ObjectionCategory = graphql_enum(
    models.ObjectionCategory,
    name="ObjectionCategory",
    description="What a customer objects to.",
    values={
        "PRICE": "The price or the cost: too expensive, no budget for it.",
        "NEED": "The need: they do not see a problem that the product solves.",
        "TIMING": "The timing: not now, maybe later.",
        "AUTHORITY": "The decision: the person cannot decide or must ask someone else.",
        "COMPETITOR": "A competitor: they use or prefer another offer.",
        "TRUST": "Trust: in the company, the product or the claims made.",
        "OTHER": "Anything else.",
    },
)
ObjectionStatus = graphql_enum(
    models.ObjectionStatus,
    name="ObjectionStatus",
    description="Where an objection stands.",
    values={
        "OPEN": "Raised and not settled.",
        "RESOLVED": "Settled: the customer accepted the answer.",
        "UNRESOLVED": "Settled without convincing the customer.",
    },
)


def _actor(member_id: uuid.UUID | None, api_key_id: uuid.UUID | None) -> Actor:
    from salesgraph.leads.types import actor_of

    return actor_of(member_id, api_key_id)


@strawberry.type(
    description="A suggested answer to a category of objection, from the workspace's library. "
    "Its usage statistics count the objections whose recorded answer is this response."
)
class ObjectionResponse:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    category: models.ObjectionCategory = strawberry.field(
        description="The category of objection it answers."
    )
    title: str = strawberry.field(description="Short name, for picking it from a list.")
    text: str = strawberry.field(description="What to say.")
    archived_at: datetime | None = strawberry.field(
        description="When it was archived: archived responses are not offered and cannot be "
        "newly used; objections that used them keep pointing at them."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a "
        "change made on stale data."
    )
    created_at: datetime = strawberry.field(description="When it was added to the library.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @strawberry.field(
        description="Objections that used it: those whose recorded answer is this response, "
        "whatever their status (those of deleted leads included)."
    )
    async def times_used(self, info: Info) -> int:
        usage = await info.context.loaders.response_usage_by_id.load(uuid.UUID(self.id))
        return usage.times_used

    @strawberry.field(
        description="Distinct leads, not deleted, with at least one objection that used it."
    )
    async def leads_reached(self, info: Info) -> int:
        usage = await info.context.loaders.response_usage_by_id.load(uuid.UUID(self.id))
        return usage.leads_reached

    @strawberry.field(description="Those of the leads reached whose status is WON.")
    async def leads_won(self, info: Info) -> int:
        usage = await info.context.loaders.response_usage_by_id.load(uuid.UUID(self.id))
        return usage.leads_won

    @strawberry.field(
        description="leadsWon / leadsReached, in [0, 1]; null when no lead was reached."
    )
    async def win_rate(self, info: Info) -> float | None:
        usage = await info.context.loaders.response_usage_by_id.load(uuid.UUID(self.id))
        return usage.win_rate

    @classmethod
    def from_model(cls, row: models.ObjectionResponse) -> ObjectionResponse:
        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            title=row.title,
            text=row.text,
            archived_at=row.archived_at,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(
    description="A customer's objection on a lead: what they said, at which stage, the answer "
    "given and how it ended."
)
class Objection:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    category: models.ObjectionCategory = strawberry.field(description="What it is about.")
    customer_words: str = strawberry.field(description="What the customer said.")
    raised_at: datetime = strawberry.field(description="When the customer raised it.")
    raised_by: LazyActor = strawberry.field(description="Who recorded it.")
    status: models.ObjectionStatus = strawberry.field(description="OPEN, RESOLVED or UNRESOLVED.")
    response: str | None = strawberry.field(
        description="The answer given (the latest one); null until answered."
    )
    responded_at: datetime | None = strawberry.field(
        description="When the answer was recorded; null until answered."
    )
    settled_at: datetime | None = strawberry.field(
        description="When it was marked RESOLVED or UNRESOLVED; null while OPEN."
    )
    settled_by: LazyActor | None = strawberry.field(description="Who settled it; null while OPEN.")
    time_to_resolution_seconds: float | None = strawberry.field(
        description="settledAt - raisedAt in seconds, for a RESOLVED objection; null otherwise."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a "
        "change made on stale data."
    )
    created_at: datetime = strawberry.field(description="When it was recorded.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    lead_id: strawberry.Private[uuid.UUID]
    stage_id: strawberry.Private[uuid.UUID]
    response_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The lead it was raised on; null if the lead is deleted.")
    async def lead(self, info: Info) -> LazyLead | None:
        from salesgraph.leads.types import Lead

        row = await info.context.loaders.lead_by_id.load(self.lead_id)
        return Lead.from_model(row) if row is not None else None

    @strawberry.field(
        description="The stage the lead was in when it was raised (possibly archived or renamed "
        "since)."
    )
    async def stage(self, info: Info) -> Stage:
        row = await info.context.loaders.stage_by_id.load(self.stage_id)
        assert row is not None  # foreign key
        return Stage.from_model(row)

    @strawberry.field(
        description="The library response the answer came from; null for an answer of one's "
        "own or none yet."
    )
    async def suggested_response(self, info: Info) -> ObjectionResponse | None:
        if self.response_id is None:
            return None
        row = await info.context.loaders.objection_response_by_id.load(self.response_id)
        return ObjectionResponse.from_model(row) if row is not None else None

    @classmethod
    def from_model(cls, row: models.Objection) -> Objection:
        resolved = row.status == models.ObjectionStatus.RESOLVED and row.settled_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            customer_words=row.customer_words,
            raised_at=row.raised_at,
            raised_by=_actor(row.raised_by_member_id, row.raised_by_api_key_id),
            status=row.status,
            response=row.response,
            responded_at=row.responded_at,
            settled_at=row.settled_at,
            settled_by=(
                _actor(row.settled_by_member_id, row.settled_by_api_key_id)
                if row.settled_at is not None
                else None
            ),
            time_to_resolution_seconds=(
                (row.settled_at - row.raised_at).total_seconds()
                if resolved and row.settled_at is not None
                else None
            ),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            lead_id=row.lead_id,
            stage_id=row.stage_id,
            response_id=row.response_id,
        )


@strawberry.type(description="A page of objections.")
class ObjectionConnection(Connection[Objection]):
    pass


@strawberry.input(description="Conditions on an objection category; all given must hold.")
class ObjectionCategoryFilter:
    eq: models.ObjectionCategory | None = strawberry.field(default=None, description="Equal to.")
    in_: list[models.ObjectionCategory] | None = strawberry.field(
        default=None, name="in", description="One of."
    )


@strawberry.input(description="Conditions on an objection status; all given must hold.")
class ObjectionStatusFilter:
    eq: models.ObjectionStatus | None = strawberry.field(default=None, description="Equal to.")
    in_: list[models.ObjectionStatus] | None = strawberry.field(
        default=None, name="in", description="One of."
    )


@strawberry.input(
    description="Which objections to list. All given conditions must hold; and/or/not combine "
    "nested filters (up to 5 levels)."
)
class ObjectionFilter:
    lead_id: IDFilter | None = strawberry.field(default=None, description="Its lead.")
    category: ObjectionCategoryFilter | None = strawberry.field(
        default=None, description="Its category."
    )
    status: ObjectionStatusFilter | None = strawberry.field(default=None, description="Its status.")
    stage_id: IDFilter | None = strawberry.field(
        default=None, description="The stage its lead was in when it was raised."
    )
    raised_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When it was raised."
    )
    response_id: IDFilter | None = strawberry.field(
        default=None, description="The library response its answer came from."
    )
    and_: list[ObjectionFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these filters holds."
    )
    or_: list[ObjectionFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters holds."
    )
    not_: ObjectionFilter | None = strawberry.field(
        default=None, name="not", description="This filter does not hold."
    )


def page_arguments(
    info: Info, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    """The page request of a list's arguments, checked (cursors included)."""
    try:
        page = page_request(info, first, after, last, before)
        objection_ordering().check(page)
    except DomainError as error:
        raise query_error(error) from None
    return page


def list_query(filter: ObjectionFilter | None) -> ObjectionListQuery:
    try:
        return ObjectionListQuery(filter)
    except DomainError as error:  # a filter that cannot be built (e.g. a malformed id)
        raise query_error(error) from None


# Fields of the Lead type, attached by the lead domain.


async def lead_objections(
    info: Info,
    lead_id: uuid.UUID,
    filter: ObjectionFilter | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ObjectionConnection:
    """A lead's objections, newest first: one page, batched with the other leads'."""
    page = page_arguments(info, first, after, last, before)
    query = list_query(filter)
    loaders = info.context.loaders
    result = await loaders.objections_by_lead_id.load((lead_id, (query, page)))

    async def count() -> int:
        return await loaders.objection_count_by_lead_id.load((lead_id, query))

    return connection(ObjectionConnection, result, Objection.from_model, count)


async def lead_open_objections(info: Info, lead_id: uuid.UUID) -> list[Objection]:
    """A lead's OPEN objections, oldest first, batched with the other leads'."""
    rows = await info.context.loaders.open_objections_by_lead_id.load(lead_id)
    return [Objection.from_model(row) for row in rows]


# Inputs and payloads of the objection mutations.

_EXPECTED_VERSION = "Refuse with CONFLICT unless the objection is at this version."
_EXPECTED_RESPONSE_VERSION = "Refuse with CONFLICT unless the response is at this version."


@strawberry.input(description="An objection a customer raised on a lead.")
class RaiseObjectionInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    category: models.ObjectionCategory = strawberry.field(description="What it is about.")
    customer_words: str = strawberry.field(
        description="What the customer said (at most 5,000 characters)."
    )
    raised_at: datetime | None = strawberry.field(
        default=None,
        description="When it was raised, for recording it later: not in the future, not "
        "before the lead was created. The objection is placed at the stage the lead was in "
        "then. Now when omitted.",
    )


@strawberry.input(
    description="The answer given to an open objection: a text, a library response, or both "
    "(a library response alone records its text)."
)
class RespondToObjectionInput:
    id: strawberry.ID = strawberry.field(description="The objection.")
    response: str | None = strawberry.field(
        default=None, description="What was answered (at most 5,000 characters)."
    )
    suggested_response_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The library response used: not archived, of the objection's category.",
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)


@strawberry.input(
    description="Settles an open objection, optionally recording the answer given in the same step."
)
class ResolveObjectionInput:
    id: strawberry.ID = strawberry.field(description="The objection.")
    status: models.ObjectionStatus = strawberry.field(description="RESOLVED or UNRESOLVED.")
    response: str | None = strawberry.field(
        default=None, description="What was answered (at most 5,000 characters)."
    )
    suggested_response_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The library response used: not archived, of the objection's category.",
    )
    settled_at: datetime | None = strawberry.field(
        default=None,
        description="When it was settled: not before it was raised, not in the future. Now "
        "when omitted.",
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)


@strawberry.input(description="Reopens a settled objection.")
class ReopenObjectionInput:
    id: strawberry.ID = strawberry.field(description="The objection.")
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)


@strawberry.input(description="Corrections to an objection; omitted fields stay as they are.")
class UpdateObjectionInput:
    id: strawberry.ID = strawberry.field(description="The objection.")
    category: models.ObjectionCategory | None = strawberry.field(
        default=strawberry.UNSET, description="What it is about."
    )
    customer_words: str | None = strawberry.field(
        default=strawberry.UNSET, description="What the customer said (at most 5,000 characters)."
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)


@strawberry.type(description="Result of an objection mutation.")
class ObjectionPayload:
    objection: Objection | None = strawberry.field(
        description="The objection as changed; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.input(description="A new response of the library.")
class CreateObjectionResponseInput:
    category: models.ObjectionCategory = strawberry.field(
        description="The category of objection it answers."
    )
    title: str = strawberry.field(description="Short name (at most 200 characters).")
    text: str = strawberry.field(description="What to say (at most 5,000 characters).")


@strawberry.input(description="Changes to a library response; omitted fields stay as they are.")
class UpdateObjectionResponseInput:
    id: strawberry.ID = strawberry.field(description="The response.")
    category: models.ObjectionCategory | None = strawberry.field(
        default=strawberry.UNSET, description="The category of objection it answers."
    )
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description="Short name (at most 200 characters)."
    )
    text: str | None = strawberry.field(
        default=strawberry.UNSET, description="What to say (at most 5,000 characters)."
    )
    expected_version: int | None = strawberry.field(
        default=None, description=_EXPECTED_RESPONSE_VERSION
    )


@strawberry.input(description="A library response to archive.")
class ArchiveObjectionResponseInput:
    id: strawberry.ID = strawberry.field(description="The response.")
    expected_version: int | None = strawberry.field(
        default=None, description=_EXPECTED_RESPONSE_VERSION
    )


@strawberry.type(description="Result of a library response mutation.")
class ObjectionResponsePayload:
    objection_response: ObjectionResponse | None = strawberry.field(
        description="The response as changed; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")
