"""GraphQL types, inputs, filters and payloads of the handoff domain."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from salesgraph.errors import DomainError
from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError, query_error
from salesgraph.graphql.filters import DateTimeFilter, IDFilter
from salesgraph.graphql.pagination import Connection, connection
from salesgraph.handoffs import models
from salesgraph.handoffs.repository import handoff_ordering
from salesgraph.leads.types import Actor, Lead, actor_of, page_arguments
from salesgraph.workspaces.types import Member, Team

HandoffStatus = graphql_enum(
    models.HandoffStatus,
    name="HandoffStatus",
    description="Where a handoff stands.",
    values={
        "PENDING": "Handed over and waiting for the receiver to accept it.",
        "ACCEPTED": "The receiver accepted the lead.",
        "SUPERSEDED": "The lead was handed on or reassigned before this handoff was accepted.",
    },
)
AssignmentKind = graphql_enum(
    models.AssignmentKind,
    name="AssignmentKind",
    description="How an assignment rule picks the owner of a new lead.",
    values={
        "ROUND_ROBIN": "The active members of the rule's team take turns, in member-id order.",
        "FIXED_OWNER": "Every lead goes to the rule's owner (while that member is active).",
    },
)


async def _member(info: Info, member_id: uuid.UUID | None) -> Member | None:
    if member_id is None:
        return None
    row = await info.context.loaders.member_by_id.load(member_id)
    return Member.from_model(row) if row is not None else None


async def _team(info: Info, team_id: uuid.UUID | None) -> Team | None:
    if team_id is None:
        return None
    row = await info.context.loaders.team_by_id.load(team_id)
    return Team.from_model(row) if row is not None else None


@strawberry.type(
    description="A lead handed from one owner and/or team to another, with a note. The lead's "
    "owner and team change when it is handed; the receiver then accepts it. Handoffs are never "
    "deleted: they are the lead's history of hands."
)
class Handoff:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    note: str | None = strawberry.field(description="What the receiver should know.")
    status: models.HandoffStatus = strawberry.field(
        description="PENDING until accepted; SUPERSEDED when handed on or reassigned first."
    )
    handed_at: datetime = strawberry.field(description="When the lead was handed over.")
    handed_by: Actor = strawberry.field(description="Who handed it over.")
    accepted_at: datetime | None = strawberry.field(
        description="When the receiver accepted it; null unless ACCEPTED."
    )
    accepted_by: Actor | None = strawberry.field(
        description="Who accepted it; null unless ACCEPTED."
    )
    superseded_at: datetime | None = strawberry.field(
        description="When a new handoff or a reassignment of the lead replaced this one; null "
        "unless SUPERSEDED."
    )
    seconds_to_acceptance: float | None = strawberry.field(
        description="acceptedAt - handedAt in seconds; null unless ACCEPTED."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a "
        "change made on stale data."
    )
    lead_id: strawberry.Private[uuid.UUID]
    from_owner_id: strawberry.Private[uuid.UUID | None]
    from_team_id: strawberry.Private[uuid.UUID | None]
    to_owner_id: strawberry.Private[uuid.UUID | None]
    to_team_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The lead handed over; null if it has been deleted since.")
    async def lead(self, info: Info) -> Lead | None:
        row = await info.context.loaders.lead_by_id.load(self.lead_id)
        return Lead.from_model(row) if row is not None else None

    @strawberry.field(description="The lead's owner before the handoff; null if it had none.")
    async def from_owner(self, info: Info) -> Member | None:
        return await _member(info, self.from_owner_id)

    @strawberry.field(description="The lead's team before the handoff; null if it had none.")
    async def from_team(self, info: Info) -> Team | None:
        return await _team(info, self.from_team_id)

    @strawberry.field(
        description="The member the lead was handed to, who accepts it; null for a handoff to "
        "a team alone."
    )
    async def to_owner(self, info: Info) -> Member | None:
        return await _member(info, self.to_owner_id)

    @strawberry.field(
        description="The team the lead was handed to; null for a handoff to a member alone "
        "(the lead kept its team). Any member of it may accept a handoff to the team alone."
    )
    async def to_team(self, info: Info) -> Team | None:
        return await _team(info, self.to_team_id)

    @classmethod
    def from_model(cls, row: models.Handoff) -> Handoff:
        accepted = row.accepted_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            note=row.note,
            status=row.status,
            handed_at=row.handed_at,
            handed_by=actor_of(row.handed_by_member_id, row.handed_by_api_key_id),
            accepted_at=row.accepted_at,
            accepted_by=(
                actor_of(row.accepted_by_member_id, row.accepted_by_api_key_id)
                if accepted
                else None
            ),
            superseded_at=row.superseded_at,
            seconds_to_acceptance=(
                (row.accepted_at - row.handed_at).total_seconds()
                if row.accepted_at is not None
                else None
            ),
            version=row.version,
            lead_id=row.lead_id,
            from_owner_id=row.from_owner_id,
            from_team_id=row.from_team_id,
            to_owner_id=row.to_owner_id,
            to_team_id=row.to_team_id,
        )


@strawberry.type(description="A page of handoffs, newest first.")
class HandoffConnection(Connection[Handoff]):
    pass


async def lead_handoffs(
    info: Info,
    lead_id: uuid.UUID,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> HandoffConnection:
    """A lead's handoffs, newest first, batched with the other leads' of the same request."""
    page = page_arguments(info, first, after, last, before)
    try:
        handoff_ordering().check(page)
    except DomainError as error:
        raise query_error(error) from None
    loaders = info.context.loaders
    result = await loaders.handoffs_by_lead_id.load((lead_id, page))

    async def count() -> int:
        return await loaders.handoff_count_by_lead_id.load(lead_id)

    return connection(HandoffConnection, result, Handoff.from_model, count)


@strawberry.input(description="Conditions on a handoff status; all given conditions must hold.")
class HandoffStatusFilter:
    eq: models.HandoffStatus | None = strawberry.field(default=None, description="Equal to.")
    in_: list[models.HandoffStatus] | None = strawberry.field(
        default=None, name="in", description="One of."
    )


@strawberry.input(
    description="Which handoffs to list; all given conditions must hold, and/or/not combine "
    "nested filters (up to 5 levels). A member's inbox: "
    "toOwnerId eq the member, status eq PENDING."
)
class HandoffFilter:
    lead_id: IDFilter | None = strawberry.field(default=None, description="The lead handed.")
    to_owner_id: IDFilter | None = strawberry.field(
        default=None, description="The member it was handed to."
    )
    to_team_id: IDFilter | None = strawberry.field(
        default=None, description="The team it was handed to."
    )
    from_owner_id: IDFilter | None = strawberry.field(
        default=None, description="The lead's owner before the handoff."
    )
    status: HandoffStatusFilter | None = strawberry.field(default=None, description="Its status.")
    handed_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When it was handed over."
    )
    and_: list[HandoffFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these filters holds."
    )
    or_: list[HandoffFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters holds."
    )
    not_: HandoffFilter | None = strawberry.field(
        default=None, name="not", description="This filter does not hold."
    )


@strawberry.input(description="A lead to hand to another owner and/or team, with a note.")
class HandOffLeadInput:
    lead_id: strawberry.ID = strawberry.field(
        description="The lead (open, won or lost; not deleted)."
    )
    to_owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The active member to hand it to. Given without toTeamId, the lead keeps "
        "its team.",
    )
    to_team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The team to hand it to. Given without toOwnerId, the lead keeps its owner "
        "if the owner is a member of the team, and has no owner otherwise (any member of the "
        "team may accept).",
    )
    note: str | None = strawberry.field(
        default=None, description="What the receiver should know (at most 2,000 characters)."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.input(description="A pending handoff its receiver accepts.")
class AcceptHandoffInput:
    id: strawberry.ID = strawberry.field(description="The handoff.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the handoff is at this version."
    )


@strawberry.type(description="Result of a handoff mutation.")
class HandoffPayload:
    handoff: Handoff | None = strawberry.field(description="The handoff; null on errors.")
    lead: Lead | None = strawberry.field(
        description="The lead handed over, as it is now; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(
    description="Who owns a new lead created without an owner: one rule per source (compared "
    "case-insensitively), plus one for every other source."
)
class AssignmentRule:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    kind: models.AssignmentKind = strawberry.field(description="How it picks the owner.")
    source: str | None = strawberry.field(
        description="The lead source it applies to (case-insensitively); null: every source "
        "without a rule of its own."
    )
    is_active: bool = strawberry.field(description="Inactive rules are skipped.")
    version: int = strawberry.field(
        description="Increases with every change of its settings (round-robin turns do not "
        "count); pass it as expectedVersion to refuse a change made on stale data."
    )
    created_at: datetime = strawberry.field(description="When the rule was created.")
    updated_at: datetime = strawberry.field(description="When its settings last changed.")
    team_id: strawberry.Private[uuid.UUID | None]
    owner_id: strawberry.Private[uuid.UUID | None]
    last_member_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="ROUND_ROBIN: the team whose active members take turns. FIXED_OWNER: the "
        "team a new lead joins when it was created without one (optional)."
    )
    async def team(self, info: Info) -> Team | None:
        return await _team(info, self.team_id)

    @strawberry.field(description="FIXED_OWNER: the member who gets every lead.")
    async def owner(self, info: Info) -> Member | None:
        return await _member(info, self.owner_id)

    @strawberry.field(
        description="ROUND_ROBIN: the member whose turn it was last (the next turn goes to the "
        "next active member of the team by id); null before the first turn."
    )
    async def last_member(self, info: Info) -> Member | None:
        return await _member(info, self.last_member_id)

    @classmethod
    def from_model(cls, row: models.AssignmentRule) -> AssignmentRule:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            source=row.source,
            is_active=row.is_active,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
            owner_id=row.owner_id,
            last_member_id=row.last_member_id,
        )


@strawberry.input(description="A new assignment rule.")
class CreateAssignmentRuleInput:
    kind: models.AssignmentKind = strawberry.field(
        description="ROUND_ROBIN needs teamId and no ownerId; FIXED_OWNER needs ownerId."
    )
    source: str | None = strawberry.field(
        default=None,
        description="The lead source it applies to (at most 100 characters, case-insensitive); "
        "null for every source without a rule of its own.",
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="ROUND_ROBIN: the team whose active members take turns. FIXED_OWNER: the "
        "team a new lead without one joins (optional).",
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="FIXED_OWNER: the active member who gets every lead."
    )
    is_active: bool = strawberry.field(default=True, description="Whether it applies now.")


@strawberry.input(
    description="Changes to an assignment rule (not its kind); omitted fields stay as they "
    "are, null clears. A new team restarts the round-robin turns."
)
class UpdateAssignmentRuleInput:
    id: strawberry.ID = strawberry.field(description="The rule.")
    source: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The lead source it applies to; null for every source without a rule.",
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The team (required for ROUND_ROBIN)."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The owner (FIXED_OWNER only, required there)."
    )
    is_active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether it applies."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the rule is at this version."
    )


@strawberry.input(description="An assignment rule to delete.")
class DeleteAssignmentRuleInput:
    id: strawberry.ID = strawberry.field(description="The rule.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the rule is at this version."
    )


@strawberry.type(description="Result of an assignment rule mutation.")
class AssignmentRulePayload:
    assignment_rule: AssignmentRule | None = strawberry.field(
        description="The rule (as it was, when deleted); null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")
