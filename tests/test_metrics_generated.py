# ruff: noqa: S608 - the corrections below are composed from constant fragments.
"""On generated data, every metric the API reports equals a straightforward recomputation.

The recomputation loads the workspace's raw rows into Python and follows docs/metrics.md line
by line, sharing no code with salesgraph.metrics. It runs over a year, over a window whose
edges cut through visits, with both re-entry rules, and with an owner filter.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.demo import seed_demo_workspace
from tests.conftest import Api, owner_database, rollup_drift

pytestmark = pytest.mark.anyio

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
DAY = 86_400
TOUCHES = {"CALL", "EMAIL", "MEETING", "DEMO", "MESSAGE", "CHAT"}
PLACES = Decimal("0.0001")


@dataclass
class Rows:
    pipeline_id: uuid.UUID
    stages: dict[uuid.UUID, Any]
    leads: dict[uuid.UUID, Any]
    visits: list[Any]
    activities: list[Any]
    objections: list[Any]


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> tuple[uuid.UUID, str]:
    database = owner_database(database_url)
    async with unit_of_work(database, workspace_id=None) as session:
        workspace_id, token = await seed_demo_workspace(
            session, leads=600, seed=11, name="generated", until=UNTIL, events=False
        )
    # Later corrections, as a workspace's history has them, through every path of the triggers
    # that keep the rollups: deleted leads (their work stays in the daily rollup and is
    # subtracted), deleted work, work moved across midnight or retyped, outcomes changed.
    async with unit_of_work(database, workspace_id=None) as session:
        for change in CORRECTIONS:
            await session.execute(text(change), {"ws": workspace_id})
    await database.engine.dispose()
    return workspace_id, token


def _every(nth: int, condition: str = "true") -> str:
    """Every nth of the workspace's completed activities meeting `condition`, by id."""
    return (
        "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM activities"
        f" WHERE workspace_id = :ws AND status = 'COMPLETED' AND {condition}) x"
        f" WHERE n % {nth} = 0"
    )


CALLS = "type = 'CALL'"
CORRECTIONS = [
    "UPDATE leads SET deleted_at = created_at + interval '1 day' WHERE workspace_id = :ws"
    " AND id IN (SELECT lead_id FROM activities WHERE workspace_id = :ws"
    " GROUP BY lead_id ORDER BY count(*) DESC, lead_id LIMIT 8)",
    f"UPDATE activities SET deleted_at = occurred_at WHERE id IN ({_every(37)})",
    "UPDATE activities SET occurred_at = occurred_at - interval '3 hours'"
    f" WHERE id IN ({_every(29)})",
    f"UPDATE activities SET type = 'EMAIL' WHERE id IN ({_every(7, CALLS)})",
    f"UPDATE activities SET outcome = 'NEGATIVE', duration_seconds = 61 WHERE id IN ({_every(11)})",
    "UPDATE leads SET status = 'LOST' WHERE workspace_id = :ws AND id IN (SELECT id FROM"
    " (SELECT id, row_number() OVER (ORDER BY id) AS n FROM leads"
    " WHERE workspace_id = :ws AND status = 'WON') x WHERE n % 5 = 0)",
]


@pytest.fixture(scope="module")
async def rows(seeded: tuple[uuid.UUID, str], database_url: str) -> Rows:
    database = owner_database(database_url)
    workspace_id = seeded[0]
    async with unit_of_work(database, workspace_id=None) as session:

        async def all_of(sql: str) -> list[Any]:
            return list((await session.execute(text(sql), {"ws": workspace_id})).all())

        stages = {
            row.id: row for row in await all_of("SELECT * FROM stages WHERE workspace_id = :ws")
        }
        leads = {
            row.id: row for row in await all_of("SELECT * FROM leads WHERE workspace_id = :ws")
        }
        visits = await all_of("SELECT * FROM stage_visits WHERE workspace_id = :ws")
        activities = await all_of("SELECT * FROM activities WHERE workspace_id = :ws")
        objections = await all_of("SELECT * FROM objections WHERE workspace_id = :ws")
    await database.engine.dispose()
    (pipeline_id,) = {row.pipeline_id for row in stages.values()}
    return Rows(pipeline_id, stages, leads, visits, activities, objections)


@pytest.fixture
async def generated_api(api: Api, seeded: tuple[uuid.UUID, str]) -> Api:
    return api.as_key(seeded[1])


WINDOWS = [
    (UNTIL - timedelta(days=365), UNTIL),
    (datetime(2025, 9, 14, 7, 30, tzinfo=UTC), datetime(2026, 1, 3, 18, 0, tzinfo=UTC)),
]


class Recount:
    """docs/metrics.md, in Python."""

    def __init__(self, rows: Rows, start: datetime, end: datetime, owner: uuid.UUID | None):
        self.rows, self.start, self.end = rows, start, end
        self.leads = {
            lead_id: lead
            for lead_id, lead in rows.leads.items()
            if lead.pipeline_id == rows.pipeline_id
            and lead.deleted_at is None
            and (owner is None or lead.owner_id == owner)
        }
        self.visits = [v for v in rows.visits if v.lead_id in self.leads]
        self.done = [
            a
            for a in rows.activities
            if a.lead_id in self.leads and a.status == "COMPLETED" and a.deleted_at is None
        ]

    def within(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def closed(self, status: str) -> list[Any]:
        return [
            lead
            for lead in self.leads.values()
            if lead.status == status and self.within(lead.closed_at)
        ]

    def funnel(self, reentry: str) -> dict[uuid.UUID, dict[str, Any]]:
        result: dict[uuid.UUID, dict[str, Any]] = {}
        for stage_id in self.rows.stages:
            at_stage = [v for v in self.visits if v.stage_id == stage_id]
            by_lead: dict[uuid.UUID, list[Any]] = defaultdict(list)
            for visit in at_stage:
                by_lead[visit.lead_id].append(visit)
            if reentry == "FIRST_ENTRY":
                counted = [
                    visits
                    for visits in by_lead.values()
                    if self.within(min(v.entered_at for v in visits))
                ]
                entered = len(counted)
                advanced = sum(
                    any(v.exit in ("FORWARD", "WON") for v in visits) for visits in counted
                )
                still_open = sum(any(v.exited_at is None for v in visits) for visits in counted)
                times = [
                    sum(((v.exited_at - v.entered_at).total_seconds() for v in visits), 0.0)
                    for visits in counted
                    if all(v.exited_at is not None for v in visits)
                ]
                lost = len(
                    {v.lead_id for v in at_stage if v.exit == "LOST" and self.within(v.exited_at)}
                )
            else:
                begun = [v for v in at_stage if self.within(v.entered_at)]
                entered = len(begun)
                advanced = sum(v.exit in ("FORWARD", "WON") for v in begun)
                still_open = sum(v.exited_at is None for v in begun)
                times = [
                    (v.exited_at - v.entered_at).total_seconds()
                    for v in begun
                    if v.exited_at is not None
                ]
                lost = sum(v.exit == "LOST" and self.within(v.exited_at) for v in at_stage)
            actions = sum(a.stage_id == stage_id and self.within(a.occurred_at) for a in self.done)
            result[stage_id] = {
                "entered": entered,
                "advanced": advanced,
                "lost": lost,
                "stillOpen": still_open,
                "actions": actions,
                "time": sorted(times),
            }
        return result

    def open_at_end(self) -> list[tuple[Any, Any]]:
        """(lead, visit) for each lead open just before `end`."""
        return [
            (self.leads[v.lead_id], v)
            for v in self.visits
            if v.entered_at < self.end and (v.exited_at is None or v.exited_at >= self.end)
        ]

    def stalled(self, lead: Any, visit: Any) -> bool:
        target = self.rows.stages[visit.stage_id].target_days
        if target is None:
            return False
        judged = min(self.end, datetime.now(UTC))
        limit = timedelta(days=target)
        if judged - visit.entered_at > limit:
            return True
        before = [
            a.occurred_at for a in self.done if a.lead_id == lead.id and a.occurred_at < judged
        ]
        return judged - max([lead.created_at, *before]) > limit

    def touches(
        self, lead_id: uuid.UUID, after: datetime | None, until: datetime, strict: bool
    ) -> int:
        return sum(
            a.lead_id == lead_id
            and a.direction == "OUTBOUND"
            and a.type in TOUCHES
            and (after is None or a.occurred_at > after)
            and (a.occurred_at < until if strict else a.occurred_at <= until)
            for a in self.done
        )


def _stats(times: list[float]) -> dict[str, Any]:
    n = len(times)
    return {
        "count": n,
        "meanSeconds": pytest.approx(statistics.fmean(times), rel=1e-9) if n else None,
        "medianSeconds": pytest.approx(statistics.median(times), rel=1e-12) if n else None,
        "p90Seconds": pytest.approx(times[math.ceil(0.9 * n) - 1], rel=1e-12) if n else None,
    }


QUERY = """
query ($p: ID!, $w: MetricWindowInput!, $f: MetricFilterInput, $r: ReentryRule!) {
  metrics(pipelineId: $p, window: $w, filter: $f) {
    funnel(reentry: $r) {
      stage { id } entered advanced lost stillOpen actions openAtEnd stalled
      timeInStage { count meanSeconds medianSeconds p90Seconds }
    }
    outcomes {
      createdLeads won lost winRate medianSalesCycleDays meanSalesCycleDays actions openLeads
      stalledLeads
      byCurrency { currency wonValue averageDealSize pipelineValue weightedForecast salesVelocity }
    }
    persistence {
      touchesBeforeWin { buckets { touches leads } }
      touchesAfterRejection { buckets { touches leads } }
      lostWithoutRejection
    }
    activityMix { type outcome count durationSeconds }
    approachMethods { method leads advanced }
    closingTechniques { technique leads advanced }
    objections { category raised resolved leads wonLeads lostLeads }
    leaderboard { member { id } createdLeads won lost actions }
  }
}
"""


def _cases() -> Iterator[tuple[int, str, bool]]:
    for window in range(len(WINDOWS)):
        for reentry in ("FIRST_ENTRY", "EVERY_ENTRY"):
            for by_owner in (False, True):
                yield window, reentry, by_owner


@pytest.mark.parametrize(("window", "reentry", "by_owner"), list(_cases()))
async def test_every_metric_equals_a_recount_of_the_rows(
    generated_api: Api, rows: Rows, window: int, reentry: str, by_owner: bool
) -> None:
    start, end = WINDOWS[window]
    owners = sorted({lead.owner_id for lead in rows.leads.values() if lead.owner_id})
    owner = owners[0] if by_owner else None
    recount = Recount(rows, start, end, owner)
    variables = {
        "p": str(rows.pipeline_id),
        "w": {"from": start.isoformat(), "to": end.isoformat()},
        "f": {"ownerIds": [str(owner)]} if owner else None,
        "r": reentry,
    }
    data = (await generated_api(QUERY, variables))["metrics"]

    # Funnel
    expected = recount.funnel(reentry)
    open_leads = recount.open_at_end()
    for row in data["funnel"]:
        stage_id = uuid.UUID(row["stage"]["id"])
        counts = expected.pop(stage_id)
        at_stage = [(lead, v) for lead, v in open_leads if v.stage_id == stage_id]
        assert row == {
            "stage": row["stage"],
            "entered": counts["entered"],
            "advanced": counts["advanced"],
            "lost": counts["lost"],
            "stillOpen": counts["stillOpen"],
            "actions": counts["actions"],
            "openAtEnd": len(at_stage),
            "stalled": sum(recount.stalled(lead, v) for lead, v in at_stage),
            "timeInStage": _stats(counts["time"]),
        }
    # Stages left out are archived ones with nothing in the window.
    for stage_id, counts in expected.items():
        assert rows.stages[stage_id].archived_at is not None
        assert counts["entered"] == counts["lost"] == counts["actions"] == 0

    # Outcomes
    won, lost = recount.closed("WON"), recount.closed("LOST")
    cycles = [(lead.closed_at - lead.created_at).total_seconds() for lead in won]
    outcome = data["outcomes"]
    assert outcome["createdLeads"] == sum(
        recount.within(lead.created_at) for lead in recount.leads.values()
    )
    assert (outcome["won"], outcome["lost"]) == (len(won), len(lost))
    win_rate = len(won) / (len(won) + len(lost)) if won or lost else None
    assert outcome["winRate"] == pytest.approx(win_rate)
    assert outcome["medianSalesCycleDays"] == (
        pytest.approx(statistics.median(cycles) / DAY) if cycles else None
    )
    mean_cycle = statistics.fmean(cycles) if cycles else None
    assert outcome["meanSalesCycleDays"] == (pytest.approx(mean_cycle / DAY) if cycles else None)
    assert outcome["actions"] == sum(recount.within(a.occurred_at) for a in recount.done)
    assert outcome["openLeads"] == len(open_leads)
    assert outcome["stalledLeads"] == sum(recount.stalled(lead, v) for lead, v in open_leads)
    currencies = sorted(
        {lead.value_currency for lead in won if lead.value_amount is not None}
        | {lead.value_currency for lead, _ in open_leads if lead.value_amount is not None}
    )
    money = []
    for currency in currencies:
        won_values = [
            lead.value_amount
            for lead in won
            if lead.value_currency == currency and lead.value_amount is not None
        ]
        open_values = [
            (lead.value_amount, recount.rows.stages[v.stage_id].win_probability)
            for lead, v in open_leads
            if lead.value_currency == currency and lead.value_amount is not None
        ]
        average = (sum(won_values) / len(won_values)).quantize(PLACES) if won_values else None
        velocity = None
        if average is not None and mean_cycle and (won or lost):
            velocity = (
                len(open_leads)
                * Decimal(len(won))
                * average
                / (len(won) + len(lost))
                / (Decimal(repr(mean_cycle)) / DAY)
            ).quantize(PLACES)
        money.append(
            {
                "currency": currency,
                "wonValue": str(sum(won_values, Decimal(0)).quantize(PLACES)),
                "averageDealSize": None if average is None else str(average),
                "pipelineValue": str(sum((v for v, _ in open_values), Decimal(0)).quantize(PLACES)),
                "weightedForecast": str(
                    sum((v * p for v, p in open_values), Decimal(0)).quantize(PLACES)
                ),
                "salesVelocity": None if velocity is None else str(velocity),
            }
        )
    assert outcome["byCurrency"] == money

    # Persistence
    before_win = defaultdict(int)
    for lead in won:
        before_win[min(recount.touches(lead.id, None, lead.closed_at, strict=True), 5)] += 1
    after_rejection: dict[int, int] = defaultdict(int)
    without = 0
    for lead in lost:
        rejections = [
            a.occurred_at
            for a in recount.done
            if a.lead_id == lead.id and a.outcome == "NEGATIVE" and a.occurred_at <= lead.closed_at
        ]
        if not rejections:
            without += 1
            continue
        after_rejection[
            min(recount.touches(lead.id, min(rejections), lead.closed_at, strict=False), 5)
        ] += 1
    persistence = data["persistence"]
    assert persistence["touchesBeforeWin"]["buckets"] == [
        {"touches": t, "leads": before_win[t]} for t in range(6)
    ]
    assert persistence["touchesAfterRejection"]["buckets"] == [
        {"touches": t, "leads": after_rejection[t]} for t in range(6)
    ]
    assert persistence["lostWithoutRejection"] == without

    # Where the work goes
    in_window = [a for a in recount.done if recount.within(a.occurred_at)]
    mix: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for a in in_window:
        mix[(a.type, a.outcome)][0] += 1
        mix[(a.type, a.outcome)][1] += a.duration_seconds or 0
    assert {
        (row["type"], row["outcome"]): [row["count"], row["durationSeconds"]]
        for row in data["activityMix"]
    } == mix
    advanced_at = {(v.lead_id, v.stage_id) for v in recount.visits if v.exit in ("FORWARD", "WON")}
    for field, column, key in (
        ("approachMethods", "approach_method", "method"),
        ("closingTechniques", "closing_technique", "technique"),
    ):
        used: dict[str, set[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(set)
        for a in in_window:
            if getattr(a, column) is not None:
                used[getattr(a, column)].add((a.lead_id, a.stage_id))
        assert {row[key]: (row["leads"], row["advanced"]) for row in data[field]} == {
            name: (
                len({lead for lead, _ in pairs}),
                len({lead for lead, s in pairs if (lead, s) in advanced_at}),
            )
            for name, pairs in used.items()
        }
    raised = [
        o for o in rows.objections if o.lead_id in recount.leads and recount.within(o.raised_at)
    ]
    categories: dict[str, list[Any]] = defaultdict(list)
    for o in raised:
        categories[o.category].append(o)
    assert {row["category"]: row for row in data["objections"]} == {
        category: {
            "category": category,
            "raised": len(items),
            "resolved": sum(o.status == "RESOLVED" for o in items),
            "leads": len({o.lead_id for o in items}),
            "wonLeads": len({o.lead_id for o in items if recount.leads[o.lead_id].status == "WON"}),
            "lostLeads": len(
                {o.lead_id for o in items if recount.leads[o.lead_id].status == "LOST"}
            ),
        }
        for category, items in categories.items()
    }
    board: dict[uuid.UUID, dict[str, int]] = defaultdict(
        lambda: {"createdLeads": 0, "won": 0, "lost": 0, "actions": 0}
    )
    for lead in recount.leads.values():
        if lead.owner_id is None:
            continue
        if recount.within(lead.created_at):
            board[lead.owner_id]["createdLeads"] += 1
        if lead in won:
            board[lead.owner_id]["won"] += 1
        if lead in lost:
            board[lead.owner_id]["lost"] += 1
    for a in in_window:
        if a.completed_by_member_id is not None:
            board[a.completed_by_member_id]["actions"] += 1
    assert {
        uuid.UUID(row["member"]["id"]): {
            k: row[k] for k in ("createdLeads", "won", "lost", "actions")
        }
        for row in data["leaderboard"]
    } == {member: counts for member, counts in board.items() if any(counts.values())}


async def test_the_rollups_equal_a_recount_after_the_corrections(
    seeded: tuple[uuid.UUID, str], database_url: str
) -> None:
    database = owner_database(database_url)
    assert set((await rollup_drift(database)).values()) == {0}
    await database.engine.dispose()


async def test_the_generated_data_exercises_every_metric(rows: Rows) -> None:
    """The recount compares something: the history has what every metric counts."""
    exits = {v.exit for v in rows.visits}
    assert {"FORWARD", "BACKWARD", "WON", "LOST"} <= exits
    assert any(v.entry == "REOPENED" for v in rows.visits)
    assert any(a.approach_method for a in rows.activities)
    assert any(a.closing_technique for a in rows.activities)
    assert any(a.outcome == "NEGATIVE" for a in rows.activities)
    assert {o.status for o in rows.objections} >= {"RESOLVED", "UNRESOLVED", "OPEN"}
    assert len({lead.value_currency for lead in rows.leads.values()} - {None}) >= 1
