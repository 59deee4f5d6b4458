"""The follow-up cadence (salesgraph.activities.cadence) through the GraphQL endpoint, on a fixed
clock.

Every touch is logged with an explicit occurredAt weeks in the past, on a lead whose history
began before that (written straight to the tables: the API creates leads only now), so every
due time is exact: the cadence computes from the touch's time, never from the clock. A step
can only be completed after it was planned; to complete a step at its due time, the tests date
its creation back to the touch that planned it (`planned_back_then`), as if every call had been
made live.

Covered: the default rule (5 touches, 2/3/5/7 days) step by step up to the last touch; the
step's shape (type of the touch, owner, system author); a POSITIVE outcome (logged, completed
or corrected) cancels the pending steps and restarts the count; an INBOUND reply or a later
non-touch plans nothing; something planned by hand plans nothing, and completing it as a
touch counts; win and loss cancel the pending steps; a reopening restarts the count; pause and
resume (the step due, not earlier than now); a lead without an active owner gets an
unassigned step; updateFollowUpCadence (a new rule, switching it off, its validation and
optimistic concurrency, admins only).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salesgraph.db.clock import transaction_time
from salesgraph.db.engine import Database
from salesgraph.db.ids import uuid7
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.leads.models import Lead, LeadStatus, StageVisit, VisitEntry
from tests.conftest import Api
from tests.test_activities import (
    db_now,
    iso,
    lead_mutation,
    log_many,
    new_member,
    set_cadence,
    succeed,
    summary,
    ts,
)

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)
SYSTEM = {"apiKeyId": None, "member": None}

STEP_FIELDS = """id type status direction subject dueAt occurredAt outcome cadenceStep
  canceledAt cancelReason assignee { id } createdBy { apiKeyId member { id } }"""
ACTIVITIES = f"""query($id: ID!) {{ lead(id: $id) {{
  activities(first: 100) {{ nodes {{ {STEP_FIELDS} }} }} }} }}"""
CADENCE = "{ followUpCadence { enabled maxTouches intervalsDays version updatedAt } }"


# --- helpers ---------------------------------------------------------------------------------


async def lead_since(
    api: Api, database: Database, days: int, *, owner_id: str | None = None
) -> tuple[str, datetime]:
    """A lead created `days` ago at the first stage (its CREATED visit then too); returns its
    id and creation time."""
    workspace_id = api.workspace_id
    assert workspace_id is not None
    pipeline = (await api("{ pipelines { id stages { id position } } }"))["pipelines"][0]
    stage = pipeline["stages"][0]
    async with unit_of_work(database, workspace_id=workspace_id) as session:
        created = (await transaction_time(session) - timedelta(days=days)).replace(microsecond=0)
        lead = Lead(
            id=uuid7(),
            workspace_id=workspace_id,
            title="Cadence",
            pipeline_id=uuid.UUID(pipeline["id"]),
            stage_id=uuid.UUID(stage["id"]),
            stage_entered_at=created,
            status=LeadStatus.OPEN,
            custom_fields={},
            owner_id=uuid.UUID(owner_id) if owner_id else None,
            created_at=created,
            updated_at=created,
        )
        session.add(lead)
        await session.flush()
        session.add(
            StageVisit(
                workspace_id=workspace_id,
                id=uuid7(),
                lead_id=lead.id,
                pipeline_id=lead.pipeline_id,
                stage_id=lead.stage_id,
                stage_position=stage["position"],
                entered_at=created,
                entry=VisitEntry.CREATED,
            )
        )
    return str(lead.id), created


async def planned_back_then(database: Database, activity_id: str, at: datetime) -> None:
    """Date a planned step's creation back to `at` (the touch that planned it)."""
    async with database.engine.begin() as connection:
        result = await connection.execute(
            text(
                "UPDATE activities SET created_at = :at, updated_at = :at"
                " WHERE id = :id AND status = 'PLANNED'"
            ),
            {"at": at, "id": uuid.UUID(activity_id)},
        )
        assert result.rowcount == 1


async def activities(api: Api, lead_id: str) -> list[dict[str, Any]]:
    """A lead's activities, newest first."""
    data = await api(ACTIVITIES, {"id": lead_id})
    return data["lead"]["activities"]["nodes"]  # type: ignore[no-any-return]


async def planned(api: Api, lead_id: str) -> list[dict[str, Any]]:
    return [a for a in await activities(api, lead_id) if a["status"] == "PLANNED"]


async def only_step(api: Api, lead_id: str) -> dict[str, Any]:
    """The one planned activity of the lead, which the cadence planned."""
    steps = await planned(api, lead_id)
    assert len(steps) == 1, steps
    assert steps[0]["cadenceStep"] is not None
    assert steps[0]["createdBy"] == SYSTEM
    return steps[0]


async def touch(
    api: Api, lead_id: str, at: datetime | None, outcome: str = "NO_RESPONSE", **fields: Any
) -> dict[str, Any]:
    """Log a completed OUTBOUND touch at `at` (now when None)."""
    input = {"leadId": lead_id, "type": "EMAIL", "direction": "OUTBOUND", "outcome": outcome}
    if at is not None:
        input["occurredAt"] = iso(at)
    return await succeed(api, "logActivity", {**input, **fields})


async def complete_step(
    api: Api,
    database: Database,
    step: dict[str, Any],
    planned_at: datetime,
    at: datetime,
    **more: Any,
) -> dict[str, Any]:
    """Complete a step at `at`, as planned at `planned_at`."""
    await planned_back_then(database, step["id"], planned_at)
    return await succeed(api, "completeActivity", {"id": step["id"], "occurredAt": iso(at), **more})


async def cadence_mutation(api: Api, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await api(
        f"mutation($input: LeadCadenceInput!) {{ {mutation}(input: $input) {{"
        " lead { id version cadencePausedAt nextFollowUpAt updatedAt }"
        " errors { field code } } }",
        {"input": input},
    )
    return data[mutation]  # type: ignore[no-any-return]


async def lead_version(api: Api, lead_id: str) -> int:
    data = await api("query($id: ID!) { lead(id: $id) { version } }", {"id": lead_id})
    return data["lead"]["version"]  # type: ignore[no-any-return]


# --- the default rule --------------------------------------------------------------------------


async def test_five_touches_two_three_five_and_seven_days_apart(
    api: Api, database: Database
) -> None:
    olga = await new_member(api, "Olga")
    lead_id, created = await lead_since(api, database, 30, owner_id=olga)
    t = created + timedelta(hours=1)

    # Touch 1 at T, unanswered: touch 2 is planned for T + 2 days, for the owner, by the system.
    first = await touch(api, lead_id, t)
    assert first["cadenceStep"] is None
    step = await only_step(api, lead_id)
    assert {key: step[key] for key in ("type", "direction", "subject", "cadenceStep")} == {
        "type": "EMAIL",
        "direction": "OUTBOUND",
        "subject": "Follow-up 2 of 5",
        "cadenceStep": 2,
    }
    assert ts(step["dueAt"]) == t + 2 * DAY
    assert step["assignee"] == {"id": olga}
    assert step["outcome"] is None
    assert await summary(api, lead_id) == (t + 2 * DAY, t)

    # Touch 2 made on time, a rejection: touch 3 three days later (T + 5 days).
    done = await complete_step(api, database, step, t, t + 2 * DAY, outcome="NEGATIVE")
    assert (done["status"], done["outcome"], done["cadenceStep"]) == ("COMPLETED", "NEGATIVE", 2)
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"]), step["type"]) == (3, t + 5 * DAY, "EMAIL")
    assert step["subject"] == "Follow-up 3 of 5"
    assert await summary(api, lead_id) == (t + 5 * DAY, t + 2 * DAY)

    # Touch 3 made as a call instead: touch 4 is a call, five days later (T + 10 days).
    await succeed(api, "updateActivity", {"id": step["id"], "type": "CALL"})
    await complete_step(api, database, step, t + 2 * DAY, t + 5 * DAY, outcome="NO_RESPONSE")
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"]), step["type"]) == (4, t + 10 * DAY, "CALL")
    assert step["assignee"] == {"id": olga}

    # Touch 4, neutral: touch 5, the last, seven days later (T + 17 days).
    await complete_step(api, database, step, t + 5 * DAY, t + 10 * DAY, outcome="NEUTRAL")
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"])) == (5, t + 17 * DAY)
    assert step["subject"] == "Follow-up 5 of 5"

    # Touch 5 unanswered: the cadence is done, nothing more is planned.
    await complete_step(api, database, step, t + 10 * DAY, t + 17 * DAY, outcome="NO_RESPONSE")
    assert await planned(api, lead_id) == []
    assert await summary(api, lead_id) == (None, t + 17 * DAY)
    history = await activities(api, lead_id)
    assert [(a["status"], a["cadenceStep"], ts(a["occurredAt"])) for a in history] == [
        ("COMPLETED", 5, t + 17 * DAY),
        ("COMPLETED", 4, t + 10 * DAY),
        ("COMPLETED", 3, t + 5 * DAY),
        ("COMPLETED", 2, t + 2 * DAY),
        ("COMPLETED", None, t),
    ]


async def test_touches_logged_together_are_counted(api: Api, database: Database) -> None:
    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    rows = [
        {"leadId": lead_id, "type": "CALL", "direction": "OUTBOUND", "occurredAt": iso(at)}
        for at in (t, t + DAY, t + 2 * DAY)
    ]
    assert (await log_many(api, rows))["loggedCount"] == 3
    # Three touches: touch 4 is due five days after the third. No owner: unassigned.
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"]), step["type"]) == (4, t + 7 * DAY, "CALL")
    assert step["assignee"] is None


async def test_an_inactive_owner_gets_no_step(api: Api, database: Database) -> None:
    gone = await new_member(api, "Gone", active=False)
    lead_id, created = await lead_since(api, database, 30, owner_id=gone)
    await touch(api, lead_id, created + DAY)
    assert (await only_step(api, lead_id))["assignee"] is None


# --- what stops it, and what plans nothing ----------------------------------------------------


async def test_a_positive_outcome_stops_the_cadence_and_restarts_the_count(
    api: Api, database: Database
) -> None:
    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    await touch(api, lead_id, t)
    step = await only_step(api, lead_id)

    # A positive meeting (a touch) a day later: the pending step is cancelled, nothing planned.
    await touch(api, lead_id, t + DAY, "POSITIVE", type="MEETING")
    (canceled,) = [a for a in await activities(api, lead_id) if a["id"] == step["id"]]
    assert (canceled["status"], canceled["cancelReason"]) == (
        "CANCELED",
        "a touch had a positive outcome",
    )
    assert canceled["canceledAt"] is not None
    assert await planned(api, lead_id) == []
    assert await summary(api, lead_id) == (None, t + DAY)

    # Touches are counted again after it: the next unanswered one is touch 1.
    await touch(api, lead_id, t + 3 * DAY)
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"])) == (2, t + 5 * DAY)

    # Completing a step positively plans nothing more.
    await complete_step(api, database, step, t + 3 * DAY, t + 4 * DAY, outcome="POSITIVE")
    assert await planned(api, lead_id) == []
    assert await summary(api, lead_id) == (None, t + 4 * DAY)


async def test_correcting_a_touch_to_positive_cancels_its_step(
    api: Api, database: Database
) -> None:
    lead_id, created = await lead_since(api, database, 30)
    first = await touch(api, lead_id, created + DAY)
    step = await only_step(api, lead_id)
    await succeed(api, "updateActivity", {"id": first["id"], "outcome": "POSITIVE"})
    (canceled,) = [a for a in await activities(api, lead_id) if a["id"] == step["id"]]
    assert (canceled["status"], canceled["cancelReason"]) == (
        "CANCELED",
        "a touch had a positive outcome",
    )
    assert await summary(api, lead_id) == (None, created + DAY)


async def test_a_reply_or_a_later_non_touch_plans_nothing(api: Api, database: Database) -> None:
    t = (await lead_since(api, database, 30))[1] + timedelta(hours=1)

    # An inbound email alone.
    inbound, _ = await lead_since(api, database, 30)
    await succeed(
        api,
        "logActivity",
        {"leadId": inbound, "type": "EMAIL", "direction": "INBOUND", "occurredAt": iso(t)},
    )
    # A touch answered an hour later, logged together.
    answered, _ = await lead_since(api, database, 30)
    await log_many(
        api,
        [
            {
                "leadId": answered,
                "type": "EMAIL",
                "direction": "OUTBOUND",
                "outcome": "NO_RESPONSE",
                "occurredAt": iso(t),
            },
            {
                "leadId": answered,
                "type": "EMAIL",
                "direction": "INBOUND",
                "outcome": "NEUTRAL",
                "occurredAt": iso(t + timedelta(hours=1)),
            },
        ],
    )
    # A note after the touch (the touch logged after it, backfilled).
    noted, _ = await lead_since(api, database, 30)
    await succeed(
        api,
        "logActivity",
        {"leadId": noted, "type": "NOTE", "occurredAt": iso(t + timedelta(hours=1))},
    )
    await touch(api, noted, t)
    for lead_id in (inbound, answered, noted):
        assert await planned(api, lead_id) == []
        assert (await summary(api, lead_id))[0] is None

    # A neutral reply to a touch whose step is pending leaves that step as it is.
    pending, _ = await lead_since(api, database, 30)
    await touch(api, pending, t)
    step = await only_step(api, pending)
    await succeed(
        api,
        "logActivity",
        {
            "leadId": pending,
            "type": "CALL",
            "direction": "INBOUND",
            "outcome": "NEUTRAL",
            "occurredAt": iso(t + DAY),
        },
    )
    assert await only_step(api, pending) == step


async def test_something_planned_by_hand_comes_first(api: Api, database: Database) -> None:
    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    by_hand = await succeed(
        api,
        "logActivity",
        {"leadId": lead_id, "type": "CALL", "direction": "OUTBOUND", "dueAt": iso(t + DAY)},
    )
    await touch(api, lead_id, t)
    assert [a["id"] for a in await planned(api, lead_id)] == [by_hand["id"]]
    assert await summary(api, lead_id) == (t + DAY, t)

    # The call made by hand, unanswered, is touch 2: touch 3 follows three days later.
    await planned_back_then(database, by_hand["id"], t)
    await succeed(
        api,
        "completeActivity",
        {"id": by_hand["id"], "occurredAt": iso(t + DAY), "outcome": "NO_RESPONSE"},
    )
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"]), step["type"]) == (3, t + 4 * DAY, "CALL")


async def test_winning_or_losing_cancels_the_pending_steps(api: Api, database: Database) -> None:
    won, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    await touch(api, won, t)
    step = await only_step(api, won)
    # A call planned by hand besides the cadence's step is not the cadence's to cancel.
    by_hand = await succeed(
        api, "logActivity", {"leadId": won, "type": "CALL", "dueAt": iso(t + 5 * DAY)}
    )
    await lead_mutation(api, "winLead", "WinLeadInput", {"id": won})
    (canceled,) = [a for a in await activities(api, won) if a["id"] == step["id"]]
    assert (canceled["status"], canceled["cancelReason"]) == ("CANCELED", "the lead was won")
    assert [a["id"] for a in await planned(api, won)] == [by_hand["id"]]
    assert await summary(api, won) == (t + 5 * DAY, t)
    await succeed(api, "cancelActivity", {"id": by_hand["id"]})
    # A touch on a won lead plans nothing.
    await touch(api, won, t + DAY)
    assert await planned(api, won) == []

    lost, _ = await lead_since(api, database, 30)
    await touch(api, lost, t)
    step = await only_step(api, lost)
    await lead_mutation(api, "loseLead", "LoseLeadInput", {"id": lost, "reason": "budget"})
    (canceled,) = [a for a in await activities(api, lost) if a["id"] == step["id"]]
    assert (canceled["status"], canceled["cancelReason"]) == ("CANCELED", "the lead was lost")
    assert await summary(api, lost) == (None, t)

    # Reopened, the count restarts: the next touch (now) is touch 1 again.
    await lead_mutation(api, "reopenLead", "ReopenLeadInput", {"id": lost})
    assert await planned(api, lost) == []
    again = await touch(api, lost, None)
    step = await only_step(api, lost)
    occurred = ts(again["occurredAt"])
    assert occurred is not None
    assert (step["cadenceStep"], ts(step["dueAt"])) == (2, occurred + 2 * DAY)


async def test_correcting_or_deleting_the_touch_re_derives_its_step(
    api: Api, database: Database
) -> None:
    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    first = await touch(api, lead_id, t)
    assert (await summary(api, lead_id))[0] == t + 2 * DAY
    # The touch happened a day later than logged: touch 2 is due two days after that.
    await succeed(api, "updateActivity", {"id": first["id"], "occurredAt": iso(t + DAY)})
    assert await summary(api, lead_id) == (t + 3 * DAY, t + DAY)
    # Logged by mistake: without a touch, the cadence calls for nothing.
    await succeed(api, "deleteActivity", {"id": first["id"]})
    assert await summary(api, lead_id) == (None, None)


# --- pause and resume --------------------------------------------------------------------------


async def test_pausing_cancels_and_blocks_and_resuming_plans_the_step_due(
    api: Api, database: Database
) -> None:
    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    await touch(api, lead_id, t)
    step = await only_step(api, lead_id)
    version = await lead_version(api, lead_id)

    paused = await cadence_mutation(
        api, "pauseFollowUpCadence", {"leadId": lead_id, "expectedVersion": version}
    )
    assert paused["errors"] == []
    assert paused["lead"]["cadencePausedAt"] is not None
    assert paused["lead"]["nextFollowUpAt"] is None
    assert paused["lead"]["version"] == version + 1
    (canceled,) = [a for a in await activities(api, lead_id) if a["id"] == step["id"]]
    assert (canceled["status"], canceled["cancelReason"]) == ("CANCELED", "the cadence was paused")

    again = await cadence_mutation(api, "pauseFollowUpCadence", {"leadId": lead_id})
    assert again == {
        "lead": None,
        "errors": [{"field": ["input", "leadId"], "code": "INVALID_STATE"}],
    }

    # While paused, an unanswered touch plans nothing.
    await touch(api, lead_id, t + DAY)
    assert await planned(api, lead_id) == []

    stale = await cadence_mutation(
        api, "resumeFollowUpCadence", {"leadId": lead_id, "expectedVersion": version}
    )
    assert stale == {
        "lead": None,
        "errors": [{"field": ["input", "expectedVersion"], "code": "CONFLICT"}],
    }
    # Resumed: touch 3 was due at T + 4 days, long past; it is planned for now.
    resumed = await cadence_mutation(
        api, "resumeFollowUpCadence", {"leadId": lead_id, "expectedVersion": version + 1}
    )
    assert resumed["errors"] == []
    assert resumed["lead"]["cadencePausedAt"] is None
    step = await only_step(api, lead_id)
    resumed_at = ts(resumed["lead"]["updatedAt"])
    assert step["cadenceStep"] == 3
    assert ts(step["dueAt"]) == resumed_at
    assert ts(resumed["lead"]["nextFollowUpAt"]) == resumed_at
    assert await cadence_mutation(api, "resumeFollowUpCadence", {"leadId": lead_id}) == {
        "lead": None,
        "errors": [{"field": ["input", "leadId"], "code": "INVALID_STATE"}],
    }


async def test_resuming_keeps_a_due_time_still_ahead(api: Api, database: Database) -> None:
    lead_id, _ = await lead_since(api, database, 30)
    yesterday = await db_now(database) - DAY
    await touch(api, lead_id, yesterday)
    assert ts((await only_step(api, lead_id))["dueAt"]) == yesterday + 2 * DAY
    await cadence_mutation(api, "pauseFollowUpCadence", {"leadId": lead_id})
    assert await planned(api, lead_id) == []
    await cadence_mutation(api, "resumeFollowUpCadence", {"leadId": lead_id})
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"])) == (2, yesterday + 2 * DAY)


async def test_a_closed_lead_cannot_be_paused(api: Api, database: Database) -> None:
    lead_id, _ = await lead_since(api, database, 30)
    await lead_mutation(api, "winLead", "WinLeadInput", {"id": lead_id})
    for lead in (lead_id, "nope"):
        refused = await cadence_mutation(api, "pauseFollowUpCadence", {"leadId": lead})
        assert refused["lead"] is None
    assert (await cadence_mutation(api, "pauseFollowUpCadence", {"leadId": lead_id}))["errors"] == [
        {"field": ["input", "leadId"], "code": "INVALID_STATE"}
    ]
    assert (await cadence_mutation(api, "pauseFollowUpCadence", {"leadId": "nope"}))["errors"] == [
        {"field": ["input", "leadId"], "code": "VALIDATION"}
    ]


# --- the workspace's rule ----------------------------------------------------------------------


async def test_a_changed_rule_plans_the_next_steps(api: Api, database: Database) -> None:
    assert await api(CADENCE) == {
        "followUpCadence": {
            "enabled": True,
            "maxTouches": 5,
            "intervalsDays": [2, 3, 5, 7],
            "version": 1,
            "updatedAt": None,
        }
    }
    changed = await set_cadence(api, maxTouches=3, intervalsDays=[1, 4], expectedVersion=1)
    assert changed["errors"] == []
    rule = changed["followUpCadence"]
    assert (rule["enabled"], rule["maxTouches"], rule["intervalsDays"], rule["version"]) == (
        True,
        3,
        [1, 4],
        2,
    )
    assert rule["updatedAt"] is not None
    assert (await api(CADENCE))["followUpCadence"] == rule

    lead_id, created = await lead_since(api, database, 30)
    t = created + timedelta(hours=1)
    await touch(api, lead_id, t)
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"]), step["subject"]) == (
        2,
        t + DAY,
        "Follow-up 2 of 3",
    )
    await complete_step(api, database, step, t, t + DAY)
    step = await only_step(api, lead_id)
    assert (step["cadenceStep"], ts(step["dueAt"])) == (3, t + 5 * DAY)
    await complete_step(api, database, step, t + DAY, t + 5 * DAY)
    assert await planned(api, lead_id) == []

    # Switched off, it plans nothing; a single touch has no follow-up either.
    off = await set_cadence(api, enabled=False, expectedVersion=2)
    assert (off["followUpCadence"]["enabled"], off["followUpCadence"]["version"]) == (False, 3)
    quiet, _ = await lead_since(api, database, 30)
    await touch(api, quiet, t)
    assert await planned(api, quiet) == []
    single = await set_cadence(api, enabled=True, maxTouches=1, intervalsDays=[])
    assert single["errors"] == []
    once, _ = await lead_since(api, database, 30)
    await touch(api, once, t)
    assert await planned(api, once) == []


async def test_the_rule_is_validated_and_versioned(api: Api) -> None:
    before = await api(CADENCE)

    async def refused(**fields: Any) -> list[tuple[list[str], str]]:
        payload = await set_cadence(api, **fields)
        assert payload["followUpCadence"] is None
        assert await api(CADENCE) == before
        return [(error["field"], error["code"]) for error in payload["errors"]]

    assert await refused(maxTouches=4) == [(["input", "intervalsDays"], "VALIDATION")]
    assert await refused(intervalsDays=[1, 2]) == [(["input", "intervalsDays"], "VALIDATION")]
    assert await refused(maxTouches=0, intervalsDays=[]) == [
        (["input", "maxTouches"], "VALIDATION")
    ]
    assert await refused(maxTouches=21, intervalsDays=[1] * 20) == [
        (["input", "maxTouches"], "VALIDATION")
    ]
    assert await refused(intervalsDays=[0, 2, 365, 366]) == [
        (["input", "intervalsDays", "0"], "VALIDATION"),
        (["input", "intervalsDays", "3"], "VALIDATION"),
    ]
    for field in ("enabled", "maxTouches", "intervalsDays"):
        assert await refused(**{field: None}) == [(["input", field], "VALIDATION")]
    assert await refused(maxTouches=3, intervalsDays=[1, 1], expectedVersion=2) == [
        (["input", "expectedVersion"], "CONFLICT")
    ]
    # The limits themselves are accepted.
    top = await set_cadence(api, maxTouches=20, intervalsDays=[365] * 19, expectedVersion=1)
    assert top["errors"] == []
    assert top["followUpCadence"]["version"] == 2
    # A change to what it already is changes nothing, not even the version.
    same = await set_cadence(api, maxTouches=20)
    assert same["followUpCadence"]["version"] == 2


async def test_only_an_admin_changes_the_rule(api: Api) -> None:
    created = await api(
        """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
            token errors { code } } }""",
        {"input": {"name": "Sync", "scopes": ["WRITE"]}},
    )
    integration = api.as_key(created["createApiKey"]["token"])
    response = await integration.post(
        "mutation { updateFollowUpCadence(input: {enabled: false}) { errors { code } } }"
    )
    errors = response.json()["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]
    assert (await integration(CADENCE))["followUpCadence"]["enabled"] is True
    # Pausing a lead's cadence needs only write access.
    lead = await api('mutation { createLead(input: {title: "X"}) { lead { id } errors { code } } }')
    paused = await cadence_mutation(
        integration, "pauseFollowUpCadence", {"leadId": lead["createLead"]["lead"]["id"]}
    )
    assert paused["errors"] == []


# --- regressions ---------------------------------------------------------------------------------


async def test_another_leads_positive_outcome_or_reopening_does_not_restart_this_cadence(
    api: Api, database: Database
) -> None:
    lead_a, created_a = await lead_since(api, database, 30)
    lead_b, created_b = await lead_since(api, database, 30)
    t = max(created_a, created_b) + timedelta(hours=1)
    await touch(api, lead_b, t + 10 * DAY, outcome="POSITIVE")
    await touch(api, lead_a, t + 5 * DAY)
    step = await only_step(api, lead_a)
    assert (step["cadenceStep"], ts(step["dueAt"])) == (2, t + 7 * DAY)


async def test_a_handoff_takes_the_pending_step_to_the_new_owner(
    api: Api, database: Database
) -> None:
    viewer = await api("{ viewer { member { id } } }")
    me = viewer["viewer"]["member"]["id"]
    created = await api(
        """mutation { createMember(input: {email: "rita@example.com", name: "Rita", role: REP}) {
             member { id } errors { message } } }"""
    )
    rita = created["createMember"]["member"]["id"]
    lead_id, start = await lead_since(api, database, 30, owner_id=me)
    await touch(api, lead_id, start + timedelta(hours=1))
    assert (await only_step(api, lead_id))["assignee"]["id"] == me
    handed = await api(
        """mutation($lead: ID!, $to: ID!) { handOffLead(input: {leadId: $lead, toOwnerId: $to}) {
             errors { message } } }""",
        {"lead": lead_id, "to": rita},
    )
    assert handed["handOffLead"]["errors"] == []
    assert (await only_step(api, lead_id))["assignee"]["id"] == rita


async def test_a_nul_character_refuses_only_its_row(api: Api, database: Database) -> None:
    lead_id, _ = await lead_since(api, database, 1)
    data = await api(
        """mutation($rows: [LogActivityInput!]!) { logActivities(input: {activities: $rows,
             errorPolicy: REJECT_FAILED_ROWS}) { loggedCount results { index
             errors { field code } } errors { field } } }""",
        {
            "rows": [
                {"leadId": lead_id, "type": "NOTE", "subject": "fine"},
                {"leadId": lead_id, "type": "NOTE", "subject": "bad\u0000"},
            ]
        },
    )
    result = data["logActivities"]
    assert result["loggedCount"] == 1
    assert result["errors"] == []
    assert result["results"][1]["errors"] == [
        {"field": ["input", "activities", "1", "subject"], "code": "VALIDATION"}
    ]
