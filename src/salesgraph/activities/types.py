"""GraphQL types, inputs, filters and payloads of the activity domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from salesgraph.activities import models
from salesgraph.activities.loaders import ActivityQuery
from salesgraph.activities.repository import newest_first
from salesgraph.errors import DomainError
from salesgraph.graphql.bulk import ErrorPolicy
from salesgraph.graphql.context import Info
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import UserError, query_error
from salesgraph.graphql.filters import (
    DateTimeFilter,
    IDFilter,
    IntFilter,
    StringFilter,
    enum_filter,
)
from salesgraph.graphql.pagination import Connection, connection
from salesgraph.leads.types import Actor, actor_of, page_arguments
from salesgraph.pipelines.types import Stage
from salesgraph.workspaces.types import Member

if TYPE_CHECKING:
    from salesgraph.leads.types import Lead

ActivityType = graphql_enum(
    models.ActivityType,
    name="ActivityType",
    description="What kind of work an activity is.",
    values={
        "CALL": "A phone or video call.",
        "EMAIL": "An email.",
        "MEETING": "A meeting in person or online.",
        "DEMO": "A product demonstration.",
        "MESSAGE": "A text or social message.",
        "CHAT": "A chat conversation (website chat, chatbot hand-over).",
        "NOTE": "A note for the record; not a contact with the customer.",
        "TASK": "Internal work for the lead (prepare an offer, check credit).",
        "GIFT": "A gift sent to open or warm up the conversation.",
        "TRIAL": "A product trial given to the customer.",
        "QUOTE": "A quote or proposal sent.",
        "OTHER": "Anything else.",
    },
)
ActivityStatus = graphql_enum(
    models.ActivityStatus,
    name="ActivityStatus",
    description="Whether an activity is still to do, done, or called off.",
    values={
        "PLANNED": "To do: due at dueAt, by its assignee.",
        "COMPLETED": "Done: it happened at occurredAt.",
        "CANCELED": "A planned activity that was called off.",
    },
)
Direction = graphql_enum(
    models.Direction,
    name="Direction",
    description="Who reached out.",
    values={
        "INBOUND": "The customer reached out to us.",
        "OUTBOUND": "We reached out to the customer (a touch, for the follow-up cadence).",
    },
)
Outcome = graphql_enum(
    models.Outcome,
    name="Outcome",
    description="How a completed activity went.",
    values={
        "POSITIVE": "The customer responded well; stops the follow-up cadence.",
        "NEUTRAL": "A response that moved nothing either way.",
        "NEGATIVE": "The customer responded badly (a rejection).",
        "NO_RESPONSE": "The customer did not respond.",
    },
)
ApproachMethod = graphql_enum(
    models.ApproachMethod,
    name="ApproachMethod",
    description="How a presentation opened.",
    values={
        "GIFT": "With a gift.",
        "QUESTION": "With a question about the customer's problem.",
        "PRODUCT_TRIAL": "With a trial of the product.",
    },
)
ClosingTechnique = graphql_enum(
    models.ClosingTechnique,
    name="ClosingTechnique",
    description="How a close was attempted.",
    values={
        "ALTERNATIVE_CHOICE": "Offering a choice between two ways to buy.",
        "INCENTIVE": "Offering something extra for deciding now.",
        "URGENCY": "Pointing to a deadline or limited availability.",
    },
)


@strawberry.type(
    description="A piece of work on a lead: done (COMPLETED), to do (PLANNED) or called off "
    "(CANCELED)."
)
class Activity:
    id: strawberry.ID = strawberry.field(description="Unique id (a time-ordered UUID).")
    type: models.ActivityType = strawberry.field(description="What kind of work it is.")
    status: models.ActivityStatus = strawberry.field(description="PLANNED, COMPLETED or CANCELED.")
    subject: str | None = strawberry.field(description="One line on what it is about.")
    body: str | None = strawberry.field(description="Notes, or the text of a message.")
    direction: models.Direction | None = strawberry.field(
        description="INBOUND or OUTBOUND; null when it is neither (a note, a task)."
    )
    due_at: datetime | None = strawberry.field(
        description="When it is (or was) due; set for planned activities."
    )
    occurred_at: datetime | None = strawberry.field(
        description="When it happened; set for completed activities."
    )
    at: datetime = strawberry.field(
        description="occurredAt when it happened, else dueAt: the time lists sort by."
    )
    duration_seconds: int | None = strawberry.field(description="How long it took, in seconds.")
    outcome: models.Outcome | None = strawberry.field(
        description="How it went; only completed activities have one."
    )
    approach_method: models.ApproachMethod | None = strawberry.field(
        description="How a presentation opened, when this was one."
    )
    closing_technique: models.ClosingTechnique | None = strawberry.field(
        description="How a close was attempted, when this was one."
    )
    cadence_step: int | None = strawberry.field(
        description="Set when the follow-up cadence planned it: the number of the touch it is "
        "(2 is the first follow-up after a first touch)."
    )
    created_by: Actor = strawberry.field(
        description="Who logged or planned it; the system (both fields null) when the "
        "follow-up cadence planned it."
    )
    completed_by: Actor | None = strawberry.field(
        description="Who recorded its completion; null unless completed."
    )
    canceled_at: datetime | None = strawberry.field(description="When it was called off.")
    cancel_reason: str | None = strawberry.field(
        description="Why it was called off (the cadence says why it stopped)."
    )
    external_id: str | None = strawberry.field(
        description="The id of the activity in the system it was synced from (unique in the "
        "workspace)."
    )
    version: int = strawberry.field(
        description="Increases with every change; pass it as expectedVersion to refuse a "
        "change made on stale data."
    )
    created_at: datetime = strawberry.field(description="When it was logged or planned.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    deleted_at: datetime | None = strawberry.field(
        description="When it was deleted; deleted activities appear only on timelines."
    )
    lead_id: strawberry.Private[uuid.UUID]
    stage_id: strawberry.Private[uuid.UUID | None]
    assignee_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The lead it was done for; null if the lead is deleted.")
    async def lead(
        self, info: Info
    ) -> Annotated[Lead, strawberry.lazy("salesgraph.leads.types")] | None:
        from salesgraph.leads.types import Lead

        row = await info.context.loaders.lead_by_id.load(self.lead_id)
        return Lead.from_model(row) if row is not None else None

    @strawberry.field(
        description="The stage the lead was in when it happened (from the stage history, also "
        "for a backfilled activity); null unless completed."
    )
    async def stage(self, info: Info) -> Stage | None:
        if self.stage_id is None:
            return None
        row = await info.context.loaders.stage_by_id.load(self.stage_id)
        return Stage.from_model(row) if row is not None else None

    @strawberry.field(description="Who does (or did) it.")
    async def assignee(self, info: Info) -> Member | None:
        if self.assignee_id is None:
            return None
        row = await info.context.loaders.member_by_id.load(self.assignee_id)
        return Member.from_model(row) if row is not None else None

    @classmethod
    def from_model(cls, row: models.Activity) -> Activity:
        completed = row.status == models.ActivityStatus.COMPLETED
        return cls(
            id=strawberry.ID(str(row.id)),
            type=row.type,
            status=row.status,
            subject=row.subject,
            body=row.body,
            direction=row.direction,
            due_at=row.due_at,
            occurred_at=row.occurred_at,
            at=row.at,
            duration_seconds=row.duration_seconds,
            outcome=row.outcome,
            approach_method=row.approach_method,
            closing_technique=row.closing_technique,
            cadence_step=row.cadence_step,
            created_by=actor_of(row.created_by_member_id, row.created_by_api_key_id),
            completed_by=(
                actor_of(row.completed_by_member_id, row.completed_by_api_key_id)
                if completed
                else None
            ),
            canceled_at=row.canceled_at,
            cancel_reason=row.cancel_reason,
            external_id=row.external_id,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
            lead_id=row.lead_id,
            stage_id=row.stage_id,
            assignee_id=row.assignee_id,
        )


@strawberry.type(description="A page of activities.")
class ActivityConnection(Connection[Activity]):
    pass


ActivityTypeFilter = enum_filter(models.ActivityType, "ActivityTypeFilter", "an activity type")
ActivityStatusFilter = enum_filter(
    models.ActivityStatus, "ActivityStatusFilter", "an activity status"
)
DirectionFilter = enum_filter(models.Direction, "DirectionFilter", "a direction")
OutcomeFilter = enum_filter(models.Outcome, "OutcomeFilter", "an outcome")
ApproachMethodFilter = enum_filter(
    models.ApproachMethod, "ApproachMethodFilter", "an approach method"
)
ClosingTechniqueFilter = enum_filter(
    models.ClosingTechnique, "ClosingTechniqueFilter", "a closing technique"
)


@strawberry.input(
    description="Which activities to list. All given conditions must hold; and/or/not combine "
    "nested filters (up to 5 levels)."
)
class ActivityFilter:
    id: IDFilter | None = strawberry.field(default=None, description="The activity's id.")
    lead_id: IDFilter | None = strawberry.field(default=None, description="Its lead.")
    type: ActivityTypeFilter | None = strawberry.field(default=None, description="Its type.")  # type: ignore[valid-type]
    status: ActivityStatusFilter | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Its status."
    )
    direction: DirectionFilter | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Its direction."
    )
    outcome: OutcomeFilter | None = strawberry.field(default=None, description="Its outcome.")  # type: ignore[valid-type]
    approach_method: ApproachMethodFilter | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Its approach method."
    )
    closing_technique: ClosingTechniqueFilter | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Its closing technique."
    )
    stage_id: IDFilter | None = strawberry.field(
        default=None, description="The stage it happened at."
    )
    assignee_id: IDFilter | None = strawberry.field(default=None, description="Its assignee.")
    cadence_step: IntFilter | None = strawberry.field(
        default=None, description="Its cadence step (is: NOT_NULL for what the cadence planned)."
    )
    external_id: StringFilter | None = strawberry.field(
        default=None, description="Its id in the system it was synced from."
    )
    at: DateTimeFilter | None = strawberry.field(
        default=None, description="Its time (occurredAt, else dueAt)."
    )
    due_at: DateTimeFilter | None = strawberry.field(default=None, description="Its due time.")
    occurred_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When it happened."
    )
    created_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When it was logged or planned."
    )
    and_: list[ActivityFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these filters holds."
    )
    or_: list[ActivityFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters holds."
    )
    not_: ActivityFilter | None = strawberry.field(
        default=None, name="not", description="This filter does not hold."
    )


def activity_query(filter: ActivityFilter | None) -> ActivityQuery:
    """The list query of a filter, checked now so that a bad one is a clear query error."""
    query = ActivityQuery(filter)
    try:
        query.conditions()
    except DomainError as error:
        raise query_error(error) from None
    return query


async def lead_activities(
    info: Info,
    lead_id: uuid.UUID,
    filter: ActivityFilter | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ActivityConnection:
    """A lead's activities, newest first, batched with the other leads' of the request."""
    page = page_arguments(info, first, after, last, before)
    query = activity_query(filter)
    try:
        newest_first().check(page)
    except DomainError as error:
        raise query_error(error) from None
    loaders = info.context.loaders
    result = await loaders.activities_by_lead_id.load((lead_id, (query, page)))

    async def count() -> int:
        return await loaders.activity_count_by_lead_id.load((lead_id, query))

    return connection(ActivityConnection, result, Activity.from_model, count)


# Inputs and payloads.


@strawberry.input(
    description="An activity to log: completed (with occurredAt, or now) or planned (with "
    "dueAt). The stage is recorded from the lead's stage history at occurredAt."
)
class LogActivityInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    type: models.ActivityType = strawberry.field(description="What kind of work.")
    subject: str | None = strawberry.field(default=None, description="One line, ≤ 300 chars.")
    body: str | None = strawberry.field(default=None, description="Notes, ≤ 20,000 chars.")
    direction: models.Direction | None = strawberry.field(
        default=None, description="INBOUND or OUTBOUND (OUTBOUND counts as a touch)."
    )
    occurred_at: datetime | None = strawberry.field(
        default=None,
        description="When it happened (not in the future, not before the lead was created); "
        "now when neither this nor dueAt is given.",
    )
    due_at: datetime | None = strawberry.field(
        default=None, description="Plans the activity instead: when it is due."
    )
    duration_seconds: int | None = strawberry.field(
        default=None, description="How long it took, 0 to 604800 seconds."
    )
    outcome: models.Outcome | None = strawberry.field(
        default=None, description="How it went; not allowed on a planned activity."
    )
    approach_method: models.ApproachMethod | None = strawberry.field(
        default=None, description="How a presentation opened."
    )
    closing_technique: models.ClosingTechnique | None = strawberry.field(
        default=None, description="How a close was attempted."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Who does (did) it; omitted: the lead's owner for a planned activity, the "
        "API key's member for a completed one.",
    )
    external_id: str | None = strawberry.field(
        default=None,
        description="Its id in the system it is synced from; a second activity with the same "
        "externalId is refused as DUPLICATE, so a retried sync logs nothing twice.",
    )


@strawberry.type(description="Result of a single-activity mutation.")
class ActivityPayload:
    activity: Activity | None = strawberry.field(
        description="The activity as changed; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")


@strawberry.type(description="The result of one row of a bulk mutation.")
class LogActivityResult:
    index: int = strawberry.field(description="The row's position in the input list (from 0).")
    activity: Activity | None = strawberry.field(
        description="The activity written; null when the row was refused or nothing was written."
    )
    errors: list[UserError] = strawberry.field(
        description='What is wrong with this row; paths start ["input", "activities", index].'
    )


@strawberry.input(description="Activities to log in one call, e.g. a day of synced emails.")
class LogActivitiesInput:
    activities: list[LogActivityInput] = strawberry.field(
        description="1 to 500 activities; each is completed or planned like logActivity's."
    )
    error_policy: ErrorPolicy = strawberry.field(
        default=ErrorPolicy.REJECT_EVERYTHING,
        description="What to do when some rows are bad.",
    )


@strawberry.type(description="Result of logActivities.")
class LogActivitiesPayload:
    results: list[LogActivityResult] = strawberry.field(
        description="One result per input row, in input order."
    )
    logged_count: int = strawberry.field(description="How many activities were written.")
    errors: list[UserError] = strawberry.field(
        description="Errors of the call as a whole (too many rows; rows refused under "
        "REJECT_EVERYTHING); each row's own errors are in its result."
    )


@strawberry.input(description="Records that a planned activity happened, and how it went.")
class CompleteActivityInput:
    id: strawberry.ID = strawberry.field(description="The planned activity.")
    occurred_at: datetime | None = strawberry.field(
        default=None,
        description="When it happened: not before it was planned, not in the future; now "
        "when omitted.",
    )
    outcome: models.Outcome | None = strawberry.field(default=None, description="How it went.")
    duration_seconds: int | None = strawberry.field(
        default=None, description="How long it took, 0 to 604800 seconds."
    )
    subject: str | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the subject."
    )
    body: str | None = strawberry.field(default=strawberry.UNSET, description="Replaces the body.")
    approach_method: models.ApproachMethod | None = strawberry.field(
        default=strawberry.UNSET, description="How a presentation opened."
    )
    closing_technique: models.ClosingTechnique | None = strawberry.field(
        default=strawberry.UNSET, description="How a close was attempted."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the activity is at this version."
    )


@strawberry.input(
    description="Corrections to an activity; omitted fields stay as they are, null clears."
)
class UpdateActivityInput:
    id: strawberry.ID = strawberry.field(description="The activity.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the activity is at this version."
    )
    type: models.ActivityType | None = strawberry.field(
        default=strawberry.UNSET, description="Its type."
    )
    subject: str | None = strawberry.field(default=strawberry.UNSET, description="Its subject.")
    body: str | None = strawberry.field(default=strawberry.UNSET, description="Its body.")
    direction: models.Direction | None = strawberry.field(
        default=strawberry.UNSET, description="Its direction."
    )
    occurred_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="When a completed activity happened; its stage is recomputed.",
    )
    due_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="When a planned activity is due."
    )
    duration_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="How long it took."
    )
    outcome: models.Outcome | None = strawberry.field(
        default=strawberry.UNSET, description="How a completed activity went."
    )
    approach_method: models.ApproachMethod | None = strawberry.field(
        default=strawberry.UNSET, description="How a presentation opened."
    )
    closing_technique: models.ClosingTechnique | None = strawberry.field(
        default=strawberry.UNSET, description="How a close was attempted."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Who does (did) it."
    )


@strawberry.input(description="Calls off a planned activity.")
class CancelActivityInput:
    id: strawberry.ID = strawberry.field(description="The planned activity.")
    reason: str | None = strawberry.field(default=None, description="Why, ≤ 1,000 chars.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the activity is at this version."
    )


@strawberry.input(description="An activity to delete.")
class DeleteActivityInput:
    id: strawberry.ID = strawberry.field(description="The activity.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the activity is at this version."
    )


@strawberry.input(description="A lead whose follow-up cadence to pause or resume.")
class LeadCadenceInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the lead is at this version."
    )


@strawberry.type(
    description="The workspace's follow-up cadence. A touch is a completed OUTBOUND activity. "
    "When a lead's latest completed activity is a touch without a POSITIVE outcome and the "
    "lead is open, not paused and has nothing planned, touch n + 1 is planned for the lead's "
    "owner intervalsDays[n - 1] days after touch n (same type), until maxTouches. Touches are "
    "counted since the lead's latest POSITIVE outcome or reopening. A POSITIVE outcome, a win, "
    "a loss or a pause cancels the steps the cadence planned."
)
class FollowUpCadence:
    enabled: bool = strawberry.field(description="Whether the cadence plans anything.")
    max_touches: int = strawberry.field(description="Touches at most, the first one included.")
    intervals_days: list[int] = strawberry.field(
        description="Days between touch n and touch n + 1, for n = 1 .. maxTouches - 1."
    )
    version: int = strawberry.field(
        description="Increases with every change (1 while the defaults were never changed)."
    )
    updated_at: datetime | None = strawberry.field(
        description="When it last changed; null while it holds the defaults."
    )

    @classmethod
    def from_model(cls, row: models.FollowUpCadence | None) -> FollowUpCadence:
        if row is None:
            return cls(
                enabled=True,
                max_touches=models.DEFAULT_MAX_TOUCHES,
                intervals_days=list(models.DEFAULT_INTERVALS_DAYS),
                version=1,
                updated_at=None,
            )
        return cls(
            enabled=row.enabled,
            max_touches=row.max_touches,
            intervals_days=list(row.intervals_days),
            version=row.version,
            updated_at=row.updated_at,
        )


@strawberry.input(description="Changes to the follow-up cadence; omitted fields stay.")
class UpdateFollowUpCadenceInput:
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether the cadence plans anything."
    )
    max_touches: int | None = strawberry.field(
        default=strawberry.UNSET, description="Touches at most, 1 to 20."
    )
    intervals_days: list[int] | None = strawberry.field(
        default=strawberry.UNSET,
        description="maxTouches - 1 gaps in days, each 1 to 365.",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the cadence is at this version."
    )


@strawberry.type(description="Result of updateFollowUpCadence.")
class FollowUpCadencePayload:
    follow_up_cadence: FollowUpCadence | None = strawberry.field(
        description="The cadence as changed; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed, if so.")
