"""The derived tables metrics read stay exact through every change the API makes.

activity_daily, activity_daily_members and closed_leads are kept by statement triggers
(migration 0007). After each step of a lead's life below, each equals a recount of its source
rows (tests/conftest.py: rollup_drift), and the metrics read from them equal the same metrics
with a lead filter, which read the raw rows instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from tests.conftest import Api, rollup_drift

pytestmark = pytest.mark.anyio

NO_DRIFT = {"activity_daily": 0, "activity_daily_members": 0, "closed_leads": 0}

CREATE = """mutation($input: CreateLeadInput!) { createLead(input: $input) {
    lead { id version owner { id } pipeline { id } } errors { code } } }"""
LOG = """mutation($input: LogActivityInput!) { logActivity(input: $input) {
    activity { id version } errors { field code } } }"""


async def mutate(api: Api, name: str, input_type: str, values: dict[str, Any]) -> dict[str, Any]:
    data = await api(
        f"mutation($input: {input_type}!)"
        f" {{ {name}(input: $input) {{ errors {{ field code }} }} }}",
        {"input": values},
    )
    assert data[name]["errors"] == [], (name, data[name]["errors"])
    return data


async def log(api: Api, lead_id: str, **fields: Any) -> str:
    data = await api(LOG, {"input": {"leadId": lead_id, **fields}})
    assert data["logActivity"]["errors"] == [], data["logActivity"]["errors"]
    return data["logActivity"]["activity"]["id"]  # type: ignore[no-any-return]


METRICS = """query($p: ID!, $w: MetricWindowInput!, $f: MetricFilterInput) {
  metrics(pipelineId: $p, window: $w, filter: $f) {
    funnel { stage { id } actions }
    outcomes { createdLeads won lost actions }
    persistence {
      touchesBeforeWin { buckets { touches leads } }
      touchesAfterRejection { buckets { touches leads } }
      lostWithoutRejection
    }
    activityMix { type outcome count durationSeconds }
    leaderboard { member { id } won lost actions }
  }
}"""


async def test_rollups_follow_every_change_to_activities_and_leads(
    api: Api, database: Database
) -> None:
    now = datetime.now(UTC)
    leads = []
    for title in ("Won", "Lost", "Deleted"):
        created = await api(CREATE, {"input": {"title": title, "source": "web"}})
        assert created["createLead"]["errors"] == []
        leads.append(created["createLead"]["lead"])
    won, lost, deleted = (lead["id"] for lead in leads)
    pipeline_id = leads[0]["pipeline"]["id"]
    assert await rollup_drift(database) == NO_DRIFT

    # Completed work, logged and backfilled
    call = await log(
        api, won, type="CALL", direction="OUTBOUND", outcome="POSITIVE", durationSeconds=300
    )
    rejection = await log(api, lost, type="EMAIL", direction="OUTBOUND", outcome="NEGATIVE")
    for lead_id in (lost, deleted):
        await log(api, lead_id, type="CALL", direction="OUTBOUND", durationSeconds=60)
    planned = await log(api, won, type="MEETING", dueAt=(now + timedelta(days=1)).isoformat())
    assert await rollup_drift(database) == NO_DRIFT

    # Completing planned work, correcting it, cancelling and deleting it
    await mutate(
        api, "completeActivity", "CompleteActivityInput", {"id": planned, "durationSeconds": 1800}
    )
    await mutate(
        api,
        "updateActivity",
        "UpdateActivityInput",
        {
            "id": call,
            "type": "DEMO",
            "outcome": "NEUTRAL",
            "durationSeconds": 900,
        },
    )
    other = await log(api, won, type="NOTE", dueAt=(now + timedelta(days=2)).isoformat())
    await mutate(api, "cancelActivity", "CancelActivityInput", {"id": other})
    assert await rollup_drift(database) == NO_DRIFT

    # Closing, reopening, closing again, deleting and restoring leads
    await mutate(api, "winLead", "WinLeadInput", {"id": won})
    await mutate(api, "loseLead", "LoseLeadInput", {"id": lost, "reason": "price"})
    assert await rollup_drift(database) == NO_DRIFT
    await mutate(api, "reopenLead", "ReopenLeadInput", {"id": won})
    await log(api, won, type="CALL", direction="OUTBOUND")
    await mutate(api, "winLead", "WinLeadInput", {"id": won})
    await mutate(api, "deleteActivity", "DeleteActivityInput", {"id": rejection})
    await mutate(api, "deleteLead", "LeadVersionInput", {"id": deleted})
    assert await rollup_drift(database) == NO_DRIFT

    # The metrics over whole days (read from the rollups, less the deleted lead's work) equal
    # the same metrics with a lead filter (read from the raw rows), and so do a mid-day
    # window's (whose partial days are read from the raw rows).
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for start, end in (
        (day - timedelta(days=10), day + timedelta(days=1)),
        (now - timedelta(hours=5), now + timedelta(minutes=1)),
    ):
        window = {"from": start.isoformat(), "to": end.isoformat()}
        whole = (await api(METRICS, {"p": pipeline_id, "w": window}))["metrics"]
        # the demo, the lost call, the meeting and the call after reopening; not the deleted
        # rejection, the cancelled note or the deleted lead's call
        assert whole["outcomes"]["actions"] == 4
        assert whole["outcomes"]["won"] == 1
        assert whole["persistence"]["touchesBeforeWin"]["buckets"][2]["leads"] == 1
        assert whole["persistence"]["lostWithoutRejection"] == 1
        filtered = {"sources": ["web"]}
        raw = await api(METRICS, {"p": pipeline_id, "w": window, "f": filtered})
        assert raw["metrics"] == whole

    await mutate(api, "restoreLead", "LeadVersionInput", {"id": deleted})
    assert await rollup_drift(database) == NO_DRIFT

    # The application never deletes a row; an erasure by hand leaves nothing behind either
    async with unit_of_work(database, workspace_id=None) as session:
        erased = await session.execute(
            text(
                "DELETE FROM activities WHERE lead_id = ANY(:leads) AND status = 'COMPLETED'"
                " RETURNING id"
            ),
            {"leads": [uuid.UUID(won), uuid.UUID(lost)]},
        )
        assert len(erased.all()) == 5
    assert await rollup_drift(database) == NO_DRIFT
