"""The lead timeline: one feed of everything that happened to a lead, as a union of events.

Every entry is a domain event, written in the transaction of the change it describes, so the
timeline holds exactly the changes that were committed. Entries that refer to an object (an
activity, an objection, a handoff) load it through DataLoaders: one statement per kind of
object for the whole page, whatever its length.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry

from salesgraph.db.keyset import Page
from salesgraph.errors import DomainError, api_name
from salesgraph.events import DomainEvent
from salesgraph.graphql.context import Info
from salesgraph.graphql.errors import query_error
from salesgraph.graphql.pagination import Connection, connection
from salesgraph.leads.types import Actor, actor_of, page_arguments
from salesgraph.pipelines.types import Stage
from salesgraph.timeline.loaders import newest_first

if TYPE_CHECKING:
    from salesgraph.activities.types import Activity
    from salesgraph.handoffs.types import Handoff
    from salesgraph.objections.types import Objection


@strawberry.type(description="One field changed by an event, with its values before and after.")
class FieldChange:
    field: str = strawberry.field(description="The field's API name, e.g. ownerId.")
    old_value: str | None = strawberry.field(
        description="Its value before, as text (JSON for lists and objects); null when unset."
    )
    new_value: str | None = strawberry.field(
        description="Its value after, as text (JSON for lists and objects); null when unset."
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _changes(data: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(
            field=api_name(name),
            old_value=_text(change.get("old")),
            new_value=_text(change.get("new")),
        )
        for name, change in (data.get("changes") or {}).items()
    ]


async def _stage(info: Info, stage_id: Any) -> Stage | None:
    if not stage_id:
        return None
    row = await info.context.loaders.stage_by_id.load(uuid.UUID(str(stage_id)))
    return Stage.from_model(row) if row is not None else None


@strawberry.interface(description="What every entry of a lead's timeline has.")
class TimelineEvent:
    id: strawberry.ID = strawberry.field(description="The event's id.")
    type: str = strawberry.field(
        description="The domain event's type, e.g. lead.stage_changed or activity.logged."
    )
    occurred_at: datetime = strawberry.field(
        description="When it happened (a backfilled activity's or objection's own time)."
    )
    recorded_at: datetime = strawberry.field(description="When it was written.")
    actor: Actor = strawberry.field(
        description="Who did it; both fields null when the system did (e.g. the cadence)."
    )
    data: strawberry.Private[dict[str, Any]]


@strawberry.type(description="The lead was created.")
class LeadCreatedEvent(TimelineEvent):
    @strawberry.field(description="The stage it was created at.")
    async def stage(self, info: Info) -> Stage | None:
        return await _stage(info, self.data.get("stage_id"))

    @strawberry.field(description="The fields it was created with.")
    def changes(self) -> list[FieldChange]:
        return _changes(self.data)


@strawberry.type(description="The lead moved from one stage to another.")
class StageChangedEvent(TimelineEvent):
    direction: str | None = strawberry.field(description="FORWARD or BACKWARD.")
    reason: str | None = strawberry.field(description="Why, when it was said.")

    @strawberry.field(description="The stage it left.")
    async def from_stage(self, info: Info) -> Stage | None:
        change = (self.data.get("changes") or {}).get("stage_id") or {}
        return await _stage(info, change.get("old"))

    @strawberry.field(description="The stage it entered.")
    async def to_stage(self, info: Info) -> Stage | None:
        change = (self.data.get("changes") or {}).get("stage_id") or {}
        return await _stage(info, change.get("new"))


@strawberry.type(
    description="The lead was won (lead.won), lost (lead.lost) or reopened (lead.reopened)."
)
class LeadStatusChangedEvent(TimelineEvent):
    status: str = strawberry.field(description="Its status after the event: WON, LOST or OPEN.")
    reason: str | None = strawberry.field(description="Why (for a loss, the lost reason).")

    @strawberry.field(description="The stage it was won or lost at, or reopened at.")
    async def stage(self, info: Info) -> Stage | None:
        return await _stage(info, self.data.get("stage_id"))


@strawberry.type(
    description="Fields of the lead changed (lead.updated, lead.reassigned), or it was "
    "deleted, restored, or its follow-up cadence paused or resumed."
)
class LeadChangedEvent(TimelineEvent):
    @strawberry.field(description="The fields that changed.")
    def changes(self) -> list[FieldChange]:
        return _changes(self.data)


@strawberry.type(
    description="Something happened to one of the lead's activities: activity.logged, "
    ".planned, .completed, .updated, .canceled or .deleted."
)
class ActivityEvent(TimelineEvent):
    activity_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The activity as it is now (also when deleted since).")
    async def activity(
        self, info: Info
    ) -> Annotated[Activity, strawberry.lazy("salesgraph.activities.types")] | None:
        from salesgraph.activities.types import Activity

        row = await info.context.loaders.activity_by_id.load(self.activity_id)
        return Activity.from_model(row) if row is not None else None

    @strawberry.field(description="The fields the event changed (for updates and completions).")
    def changes(self) -> list[FieldChange]:
        return _changes(self.data)


@strawberry.type(
    description="Something happened to one of the lead's objections: objection.raised, "
    ".responded, .resolved, .unresolved, .reopened or .updated."
)
class ObjectionEvent(TimelineEvent):
    objection_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The objection as it is now.")
    async def objection(
        self, info: Info
    ) -> Annotated[Objection, strawberry.lazy("salesgraph.objections.types")] | None:
        from salesgraph.objections.types import Objection

        row = await info.context.loaders.objection_by_id.load(self.objection_id)
        return Objection.from_model(row) if row is not None else None

    @strawberry.field(description="The fields the event changed.")
    def changes(self) -> list[FieldChange]:
        return _changes(self.data)


@strawberry.type(
    description="The lead was handed to another owner or team (handoff.created), or the "
    "receiver accepted it (handoff.accepted)."
)
class HandoffEvent(TimelineEvent):
    handoff_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The handoff as it is now.")
    async def handoff(
        self, info: Info
    ) -> Annotated[Handoff, strawberry.lazy("salesgraph.handoffs.types")] | None:
        from salesgraph.handoffs.types import Handoff

        row = await info.context.loaders.handoff_by_id.load(self.handoff_id)
        return Handoff.from_model(row) if row is not None else None

    @strawberry.field(description="The lead's fields the handoff changed (owner, team).")
    def changes(self) -> list[FieldChange]:
        return _changes(self.data)


TimelineItem = Annotated[
    LeadCreatedEvent
    | StageChangedEvent
    | LeadStatusChangedEvent
    | LeadChangedEvent
    | ActivityEvent
    | ObjectionEvent
    | HandoffEvent,
    strawberry.union(
        "TimelineItem",
        description="An entry of a lead's timeline; every member is a TimelineEvent.",
    ),
]

_STATUS_AFTER = {"lead.won": "WON", "lead.lost": "LOST", "lead.reopened": "OPEN"}


def timeline_item(row: DomainEvent) -> Any:
    """The timeline entry of an event, by its type."""
    common: dict[str, Any] = {
        "id": strawberry.ID(str(row.id)),
        "type": row.type,
        "occurred_at": row.occurred_at,
        "recorded_at": row.recorded_at,
        "actor": actor_of(row.actor_member_id, row.actor_api_key_id),
        "data": row.data,
    }
    if row.subject_type == "activity":
        return ActivityEvent(**common, activity_id=row.subject_id)
    if row.subject_type == "objection":
        return ObjectionEvent(**common, objection_id=row.subject_id)
    if row.subject_type == "handoff":
        return HandoffEvent(**common, handoff_id=row.subject_id)
    if row.type == "lead.created":
        return LeadCreatedEvent(**common)
    if row.type == "lead.stage_changed":
        return StageChangedEvent(
            **common, direction=row.data.get("direction"), reason=row.data.get("reason")
        )
    if row.type in _STATUS_AFTER:
        return LeadStatusChangedEvent(
            **common, status=_STATUS_AFTER[row.type], reason=row.data.get("reason")
        )
    return LeadChangedEvent(**common)


@strawberry.type(description="A page of a lead's timeline, newest first.")
class TimelineConnection(Connection[TimelineItem]):
    pass


async def lead_timeline(
    info: Info,
    lead_id: uuid.UUID,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> TimelineConnection:
    """A lead's timeline page, batched with the other leads' of the request."""
    page = page_arguments(info, first, after, last, before)
    try:
        newest_first().check(page)
    except DomainError as error:
        raise query_error(error) from None
    loaders = info.context.loaders
    result: Page[DomainEvent] = await loaders.events_by_lead_id.load((lead_id, page))

    async def count() -> int:
        return await loaders.event_count_by_lead_id.load(lead_id)

    return connection(TimelineConnection, result, timeline_item, count)
