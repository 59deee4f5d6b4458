"""Query and mutation fields of the activity domain: short resolvers that call the service."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.types.unset import UnsetType

from salesgraph.activities import repository
from salesgraph.activities import service as activity_service
from salesgraph.activities.models import Activity as ActivityRow
from salesgraph.activities.models import ActivityStatus
from salesgraph.activities.types import (
    Activity,
    ActivityConnection,
    ActivityFilter,
    ActivityPayload,
    CancelActivityInput,
    CompleteActivityInput,
    DeleteActivityInput,
    FollowUpCadence,
    FollowUpCadencePayload,
    LeadCadenceInput,
    LogActivitiesInput,
    LogActivitiesPayload,
    LogActivityInput,
    LogActivityResult,
    UpdateActivityInput,
    UpdateFollowUpCadenceInput,
    activity_query,
)
from salesgraph.db.keyset import Ordering
from salesgraph.errors import DomainError, DomainErrors, ErrorCode, validation
from salesgraph.graphql.bulk import ErrorPolicy
from salesgraph.graphql.context import Info
from salesgraph.graphql.errors import UserError, query_error, user_errors
from salesgraph.graphql.inputs import (
    INPUT,
    given,
    given_id,
    lookup_id,
    not_null,
    parse_id,
    payload_parts,
    run_mutation,
)
from salesgraph.graphql.pagination import After, Before, First, Last, connection
from salesgraph.graphql.permissions import CanRead, CanWrite, IsAdmin
from salesgraph.leads.types import Lead as LeadType
from salesgraph.leads.types import LeadPayload, page_arguments
from salesgraph.values import UNSET, Unset

MAX_AGENDA_WINDOW = timedelta(days=366)

AssigneeArgument = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Only activities assigned to this member; all when omitted."),
]


async def _page(
    info: Info,
    conditions: list[object],
    ordering: Ordering,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ActivityConnection:
    page = page_arguments(info, first, after, last, before)
    try:
        ordering.check(page)
        async with info.context.read_session() as session:
            result = await repository.page_of_activities(session, conditions, ordering, page)  # type: ignore[arg-type]
    except DomainError as error:
        raise query_error(error) from None

    async def count() -> int:
        async with info.context.read_session() as session:
            return await repository.count_activities(session, conditions)  # type: ignore[arg-type]

    return connection(ActivityConnection, result, Activity.from_model, count)


def _assignee_conditions(assignee_id: str | None) -> list[object]:
    if assignee_id is None:
        return []
    member_id = lookup_id(assignee_id)
    if member_id is None:
        raise query_error(validation(f"{assignee_id!r} is not a valid id", "assigneeId"))
    return [ActivityRow.assignee_id == member_id]


@strawberry.type
class ActivityQuery:
    @strawberry.field(
        description="An activity by id; null when it does not exist in the workspace, is "
        "deleted, or its lead is.",
        permission_classes=[CanRead],
    )
    async def activity(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> Activity | None:
        activity_id = lookup_id(id)
        if activity_id is None:
            return None
        async with info.context.read_session() as session:
            row = await repository.get_activity(session, activity_id)
        return Activity.from_model(row) if row is not None else None

    @strawberry.field(
        description="Activities of the workspace's leads, newest first (by occurredAt, else "
        "dueAt).",
        permission_classes=[CanRead],
    )
    async def activities(
        self,
        info: Info,
        filter: Annotated[
            ActivityFilter | None, strawberry.argument(description="Only activities that match.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> ActivityConnection:
        conditions = activity_query(filter).conditions()
        return await _page(info, conditions, repository.newest_first(), first, after, last, before)

    @strawberry.field(
        description="A rep's agenda: planned activities due in [from, to), soonest first.",
        permission_classes=[CanRead],
    )
    async def agenda(
        self,
        info: Info,
        from_: Annotated[
            datetime, strawberry.argument(name="from", description="Start of the window.")
        ],
        to: Annotated[
            datetime,
            strawberry.argument(description="End of the window (excluded); at most 366 days on."),
        ],
        assignee_id: AssigneeArgument = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> ActivityConnection:
        if to <= from_:
            raise query_error(validation("must be after from", "to"))
        if to - from_ > MAX_AGENDA_WINDOW:
            raise query_error(validation("the window is at most 366 days", "to"))
        conditions = [
            ActivityRow.status == ActivityStatus.PLANNED,
            ActivityRow.due_at >= from_,
            ActivityRow.due_at < to,
            *_assignee_conditions(assignee_id),
        ]
        return await _page(
            info, conditions, repository.soonest_due_first(), first, after, last, before
        )

    @strawberry.field(
        description="Planned activities whose due time has passed, most overdue first.",
        permission_classes=[CanRead],
    )
    async def overdue_follow_ups(
        self,
        info: Info,
        assignee_id: AssigneeArgument = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> ActivityConnection:
        from sqlalchemy import func

        conditions = [
            ActivityRow.status == ActivityStatus.PLANNED,
            ActivityRow.due_at < func.now(),
            *_assignee_conditions(assignee_id),
        ]
        return await _page(
            info, conditions, repository.soonest_due_first(), first, after, last, before
        )

    @strawberry.field(
        description="The workspace's follow-up cadence.", permission_classes=[CanRead]
    )
    async def follow_up_cadence(self, info: Info) -> FollowUpCadence:
        async with info.context.read_session() as session:
            return FollowUpCadence.from_model(await repository.cadence_of_workspace(session))


def _payload(result: object) -> ActivityPayload:
    activity, errors = payload_parts(result, Activity.from_model)
    return ActivityPayload(activity=activity, errors=errors)


def _new_activity(input: LogActivityInput, *path: str) -> activity_service.NewActivity:
    return activity_service.NewActivity(
        lead_id=parse_id(input.lead_id, *path, "leadId"),
        type=input.type,
        subject=input.subject,
        body=input.body,
        direction=input.direction,
        occurred_at=input.occurred_at,
        due_at=input.due_at,
        duration_seconds=input.duration_seconds,
        outcome=input.outcome,
        approach_method=input.approach_method,
        closing_technique=input.closing_technique,
        assignee_id=given_id(input.assignee_id, "assigneeId")
        if not path
        else _row_assignee(input.assignee_id, path),
        external_id=input.external_id,
    )


def _row_assignee(value: str | UnsetType | None, path: tuple[str, ...]) -> uuid.UUID | Unset | None:
    if isinstance(value, UnsetType):
        return UNSET
    return None if value is None else parse_id(value, *path, "assigneeId")


@strawberry.type
class ActivityMutation:
    @strawberry.mutation(
        description="Log an activity on a lead: completed (occurredAt, or now) or planned "
        "(dueAt). Completing an unanswered outbound touch lets the follow-up cadence plan the "
        "next one.",
        permission_classes=[CanWrite],
    )
    async def log_activity(
        self, info: Info, input: Annotated[LogActivityInput, INPUT]
    ) -> ActivityPayload:
        result = await run_mutation(
            info,
            lambda session, principal: activity_service.log_activity(
                session, actor=principal.actor, new=_new_activity(input)
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Log up to 500 activities in one transaction (an integration's sync), with "
        "a result per row.",
        permission_classes=[CanWrite],
    )
    async def log_activities(
        self, info: Info, input: Annotated[LogActivitiesInput, INPUT]
    ) -> LogActivitiesPayload:
        count = len(input.activities)
        if count > activity_service.MAX_BULK or count == 0:
            error = DomainError(
                ErrorCode.LIMIT_EXCEEDED if count else ErrorCode.VALIDATION,
                f"give 1 to {activity_service.MAX_BULK} activities, got {count}",
                "activities",
            )
            return LogActivitiesPayload(results=[], logged_count=0, errors=user_errors(error))
        row_errors: dict[int, list[UserError]] = {}
        rows: list[activity_service.NewActivity] = []
        for index, row in enumerate(input.activities):
            try:
                rows.append(_new_activity(row, "activities", str(index)))
            except DomainError as error:
                row_errors[index] = user_errors(error)
        reject_everything = input.error_policy == ErrorPolicy.REJECT_EVERYTHING
        # The well-formed rows are checked even when some are malformed, so that every bad row
        # of a refused call reports its errors.
        indexes = [index for index in range(count) if index not in row_errors]

        result = await run_mutation(
            info,
            lambda session, principal: activity_service.log_activities(
                session,
                actor=principal.actor,
                rows=rows,
                reject_everything=reject_everything,
                prefix=lambda position: ("activities", str(indexes[position])),
                others_failed=bool(row_errors),
            ),
        )
        if isinstance(result, list):
            return LogActivitiesPayload(results=[], logged_count=0, errors=result)
        for position, outcome in enumerate(result.rows):
            if isinstance(outcome, list) and outcome:
                row_errors[indexes[position]] = user_errors(DomainErrors(outcome))
        if reject_everything and row_errors:
            return _bulk_refused(count, row_errors)
        written = {
            indexes[position]: outcome
            for position, outcome in enumerate(result.rows)
            if not isinstance(outcome, list)
        }
        results = [
            LogActivityResult(
                index=index,
                activity=Activity.from_model(written[index]) if index in written else None,
                errors=row_errors.get(index, []),
            )
            for index in range(count)
        ]
        return LogActivitiesPayload(results=results, logged_count=len(written), errors=[])

    @strawberry.mutation(
        description="Record that a planned activity happened, and how it went.",
        permission_classes=[CanWrite],
    )
    async def complete_activity(
        self, info: Info, input: Annotated[CompleteActivityInput, INPUT]
    ) -> ActivityPayload:
        def completion() -> activity_service.Completion:
            return activity_service.Completion(
                occurred_at=input.occurred_at,
                outcome=input.outcome,
                duration_seconds=input.duration_seconds,
                subject=given(input.subject),
                body=given(input.body),
                approach_method=given(input.approach_method),
                closing_technique=given(input.closing_technique),
            )

        result = await run_mutation(
            info,
            lambda session, principal: activity_service.complete_activity(
                session,
                actor=principal.actor,
                activity_id=parse_id(input.id, "id"),
                completion=completion(),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Correct an activity; the timeline keeps the changes.",
        permission_classes=[CanWrite],
    )
    async def update_activity(
        self, info: Info, input: Annotated[UpdateActivityInput, INPUT]
    ) -> ActivityPayload:
        def changes() -> activity_service.ActivityChanges:
            return activity_service.ActivityChanges(
                type=not_null(given(input.type), "type"),
                subject=given(input.subject),
                body=given(input.body),
                direction=given(input.direction),
                occurred_at=not_null(given(input.occurred_at), "occurredAt"),
                due_at=not_null(given(input.due_at), "dueAt"),
                duration_seconds=given(input.duration_seconds),
                outcome=given(input.outcome),
                approach_method=given(input.approach_method),
                closing_technique=given(input.closing_technique),
                assignee_id=given_id(input.assignee_id, "assigneeId"),
            )

        result = await run_mutation(
            info,
            lambda session, principal: activity_service.update_activity(
                session,
                actor=principal.actor,
                activity_id=parse_id(input.id, "id"),
                fields=changes(),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(description="Call off a planned activity.", permission_classes=[CanWrite])
    async def cancel_activity(
        self, info: Info, input: Annotated[CancelActivityInput, INPUT]
    ) -> ActivityPayload:
        result = await run_mutation(
            info,
            lambda session, principal: activity_service.cancel_activity(
                session,
                actor=principal.actor,
                activity_id=parse_id(input.id, "id"),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Delete an activity: it leaves every list and the lead's summary times; "
        "the lead's timeline keeps it.",
        permission_classes=[CanWrite],
    )
    async def delete_activity(
        self, info: Info, input: Annotated[DeleteActivityInput, INPUT]
    ) -> ActivityPayload:
        result = await run_mutation(
            info,
            lambda session, principal: activity_service.delete_activity(
                session,
                actor=principal.actor,
                activity_id=parse_id(input.id, "id"),
                expected_version=input.expected_version,
            ),
        )
        return _payload(result)

    @strawberry.mutation(
        description="Pause a lead's follow-up cadence: the steps it planned are cancelled and "
        "nothing more is planned until it is resumed.",
        permission_classes=[CanWrite],
    )
    async def pause_follow_up_cadence(
        self, info: Info, input: Annotated[LeadCadenceInput, INPUT]
    ) -> LeadPayload:
        return await _set_paused(info, input, paused=True)

    @strawberry.mutation(
        description="Resume a lead's paused cadence: the step that is due is planned again "
        "(for now, if it would already be overdue).",
        permission_classes=[CanWrite],
    )
    async def resume_follow_up_cadence(
        self, info: Info, input: Annotated[LeadCadenceInput, INPUT]
    ) -> LeadPayload:
        return await _set_paused(info, input, paused=False)

    @strawberry.mutation(
        description="Change the workspace's follow-up cadence.", permission_classes=[IsAdmin]
    )
    async def update_follow_up_cadence(
        self, info: Info, input: Annotated[UpdateFollowUpCadenceInput, INPUT]
    ) -> FollowUpCadencePayload:
        result = await run_mutation(
            info,
            lambda session, principal: activity_service.update_cadence(
                session,
                actor=principal.actor,
                enabled=not_null(given(input.enabled), "enabled"),
                max_touches=not_null(given(input.max_touches), "maxTouches"),
                intervals_days=not_null(given(input.intervals_days), "intervalsDays"),
                expected_version=input.expected_version,
            ),
        )
        cadence, errors = payload_parts(result, FollowUpCadence.from_model)
        return FollowUpCadencePayload(follow_up_cadence=cadence, errors=errors)


def _bulk_refused(count: int, row_errors: dict[int, list[UserError]]) -> LogActivitiesPayload:
    refused = DomainError(
        ErrorCode.VALIDATION,
        f"{len(row_errors)} of {count} rows have errors; nothing was written "
        "(errorPolicy REJECT_EVERYTHING)",
        "activities",
    )
    return LogActivitiesPayload(
        results=[
            LogActivityResult(index=index, activity=None, errors=row_errors.get(index, []))
            for index in range(count)
        ],
        logged_count=0,
        errors=user_errors(refused),
    )


async def _set_paused(info: Info, input: LeadCadenceInput, *, paused: bool) -> LeadPayload:
    result = await run_mutation(
        info,
        lambda session, principal: activity_service.set_cadence_paused(
            session,
            actor=principal.actor,
            lead_id=parse_id(input.lead_id, "leadId"),
            paused=paused,
            expected_version=input.expected_version,
        ),
    )
    lead, errors = payload_parts(result, LeadType.from_model)
    return LeadPayload(lead=lead, errors=errors)
