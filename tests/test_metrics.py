"""Every metric against a hand-counted fixture: thirteen leads with explicit histories.

The window is January 2026, [2026-01-01, 2026-02-01). `D(n)` is midnight of January n (D(32)
is February 1, the window's end; D(34) February 3); activities happen at noon. Stages of the
pipeline "Sales": S1 (position 1, win probability 0.1, 10 target days), S2 (2, 0.4, 5 days),
S3 (3, 0.8, no target) and S4 "Legacy" (archived, after them). Owner A (team T1) and owner B.

    lead owner source value       created  visits (stage [entered, exited) exit)
    L1   A     web    EUR 1000    D1    S1 [D1,D3) F, S2 [D3,D6) F, S3 [D6,D10) WON
    L2   A     web    EUR 2000    D2    S1 [D2,D5) F, S2 [D5,D8) LOST
    L3   B     ref    EUR 3000    D2    S1 [D2,D4) F, S2 [D4,D7) B, S1 [D7,D9) F, S2 [D9,D12) F,
                                        S3 [D12,-)              expected close 2026-03-15
    L4   B     web    -           D5    S1 [D5,-)
    L5   A     ref    EUR 500     Dec20 S1 [Dec20,D3) F, S2 [D3,-)   expected close 2026-02-10
    L6   B     web    USD 800     D10   S1 [D10,D11) F, S2 [D11,D13) F, S3 [D13,D20) WON
    L7   A     web    EUR 1500    D4    S1 [D4,D6) LOST, S1 [D15,D18) F (reopened), S2 [D18,D25) WON
    L8   B     web    EUR 4000    D25   S1 [D25,-)                  expected close 2026-03-01
    L9   A     web    EUR 700     Dec1  S1 [Dec1,Dec10) F, S2 [Dec10,D2) LOST
    L10  B     web    EUR 900     D1    S4 [D1,D3) F, S2 [D3,D8) F, S3 [D8,D14) LOST
    L11  A     web    EUR 9999    D2    S1 [D2,D3) WON — deleted: counts nowhere
    L12  A     web    EUR 10000   D28   S1 [D28,D29) F, S2 [D29,D31) F, S3 [D31,D34) WON
    L13  B     web    -           D6    S1 [D6,D9) LOST

The expected values below are counted by hand from this table and the activities and
objections in `_fixture`; the comments show the counting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salesgraph.db.engine import Database
from salesgraph.db.unit_of_work import unit_of_work
from tests.conftest import Api, StatementCounter

pytestmark = pytest.mark.anyio

DAY = 86_400.0
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)
WINDOW = {"from": START.isoformat(), "to": END.isoformat()}


def D(day: int, hour: int = 0) -> datetime:
    return START + timedelta(days=day - 1, hours=hour)


DEC = lambda day: datetime(2025, 12, day, tzinfo=UTC)  # noqa: E731


@dataclass
class LeadSpec:
    owner: str
    source: str
    value: tuple[str, str] | None
    created: datetime
    visits: list[tuple[str, datetime, datetime | None, str | None]]
    expected_close: date | None = None
    deleted: bool = False
    id: uuid.UUID = field(default_factory=uuid.uuid4)


LEADS = {
    "L1": LeadSpec(
        "A",
        "web",
        ("1000", "EUR"),
        D(1),
        [("S1", D(1), D(3), "FORWARD"), ("S2", D(3), D(6), "FORWARD"), ("S3", D(6), D(10), "WON")],
    ),
    "L2": LeadSpec(
        "A",
        "web",
        ("2000", "EUR"),
        D(2),
        [("S1", D(2), D(5), "FORWARD"), ("S2", D(5), D(8), "LOST")],
    ),
    "L3": LeadSpec(
        "B",
        "referral",
        ("3000", "EUR"),
        D(2),
        [
            ("S1", D(2), D(4), "FORWARD"),
            ("S2", D(4), D(7), "BACKWARD"),
            ("S1", D(7), D(9), "FORWARD"),
            ("S2", D(9), D(12), "FORWARD"),
            ("S3", D(12), None, None),
        ],
        expected_close=date(2026, 3, 15),
    ),
    "L4": LeadSpec("B", "web", None, D(5), [("S1", D(5), None, None)]),
    "L5": LeadSpec(
        "A",
        "referral",
        ("500", "EUR"),
        DEC(20),
        [("S1", DEC(20), D(3), "FORWARD"), ("S2", D(3), None, None)],
        expected_close=date(2026, 2, 10),
    ),
    "L6": LeadSpec(
        "B",
        "web",
        ("800", "USD"),
        D(10),
        [
            ("S1", D(10), D(11), "FORWARD"),
            ("S2", D(11), D(13), "FORWARD"),
            ("S3", D(13), D(20), "WON"),
        ],
    ),
    "L7": LeadSpec(
        "A",
        "web",
        ("1500", "EUR"),
        D(4),
        [("S1", D(4), D(6), "LOST"), ("S1", D(15), D(18), "FORWARD"), ("S2", D(18), D(25), "WON")],
    ),
    "L8": LeadSpec(
        "B", "web", ("4000", "EUR"), D(25), [("S1", D(25), None, None)], date(2026, 3, 1)
    ),
    "L9": LeadSpec(
        "A",
        "web",
        ("700", "EUR"),
        DEC(1),
        [("S1", DEC(1), DEC(10), "FORWARD"), ("S2", DEC(10), D(2), "LOST")],
    ),
    "L10": LeadSpec(
        "B",
        "web",
        ("900", "EUR"),
        D(1),
        [("S4", D(1), D(3), "FORWARD"), ("S2", D(3), D(8), "FORWARD"), ("S3", D(8), D(14), "LOST")],
    ),
    "L11": LeadSpec("A", "web", ("9999", "EUR"), D(2), [("S1", D(2), D(3), "WON")], deleted=True),
    "L12": LeadSpec(
        "A",
        "web",
        ("10000", "EUR"),
        D(28),
        [
            ("S1", D(28), D(29), "FORWARD"),
            ("S2", D(29), D(31), "FORWARD"),
            ("S3", D(31), D(34), "WON"),
        ],
    ),
    "L13": LeadSpec("B", "web", None, D(6), [("S1", D(6), D(9), "LOST")]),
}

# (lead, type, day or datetime, stage, outcome, seconds, extra); all OUTBOUND unless extra says.
ACTIVITIES: list[tuple[str, str, datetime, str, str | None, int, dict[str, Any]]] = [
    ("L1", "CALL", D(1, 12), "S1", "POSITIVE", 600, {}),
    ("L1", "EMAIL", D(2, 12), "S1", "NEUTRAL", 300, {}),
    ("L1", "MEETING", D(4, 12), "S2", "POSITIVE", 3600, {"approach_method": "QUESTION"}),
    ("L1", "EMAIL", D(5, 12), "S2", "POSITIVE", 300, {"deleted": True}),
    ("L1", "DEMO", D(7, 12), "S3", "POSITIVE", 1800, {"closing_technique": "URGENCY"}),
    ("L1", "CALL", D(9, 12), "S3", "POSITIVE", 600, {"closing_technique": "ALTERNATIVE_CHOICE"}),
    ("L2", "CALL", D(3, 12), "S1", "NEUTRAL", 600, {}),
    ("L2", "EMAIL", D(6, 12), "S2", "NEGATIVE", 300, {"approach_method": "GIFT"}),
    ("L2", "CALL", D(7, 12), "S2", "NO_RESPONSE", 600, {}),
    ("L3", "CALL", D(3, 12), "S1", "POSITIVE", 900, {}),
    ("L3", "MEETING", D(5, 12), "S2", "NEGATIVE", 1800, {"approach_method": "PRODUCT_TRIAL"}),
    ("L3", "NOTE", D(10, 12), "S2", None, 120, {"direction": None}),
    ("L5", "EMAIL", DEC(25), "S1", "NEUTRAL", 300, {}),
    ("L5", "CALL", D(4, 12), "S2", "NO_RESPONSE", 300, {}),
    ("L6", "CALL", D(10, 12), "S1", "POSITIVE", 600, {"direction": "INBOUND"}),
    ("L6", "EMAIL", D(12, 12), "S2", "POSITIVE", 300, {"approach_method": "QUESTION"}),
    ("L7", "CALL", D(5, 12), "S1", "NEGATIVE", 600, {}),
    ("L7", "CALL", D(16, 12), "S1", "POSITIVE", 600, {}),
    ("L7", "MEETING", D(19, 12), "S2", "POSITIVE", 1800, {"closing_technique": "INCENTIVE"}),
    ("L9", "CALL", D(1, 12), "S2", "NEGATIVE", 300, {}),
    ("L10", "EMAIL", D(4, 12), "S2", "POSITIVE", 300, {}),
    ("L10", "CALL", D(10, 12), "S3", "NEGATIVE", 600, {"closing_technique": "URGENCY"}),
    ("L11", "CALL", D(2, 12), "S1", "POSITIVE", 600, {}),
]

# (lead, category, raised, stage, status, settled)
OBJECTIONS = [
    ("L2", "PRICE", D(6, 13), "S2", "UNRESOLVED", D(7)),
    ("L3", "PRICE", D(5, 13), "S2", "RESOLVED", D(6)),
    ("L7", "TIMING", D(5, 13), "S1", "RESOLVED", D(16)),
    ("L1", "PRICE", D(7, 13), "S3", "RESOLVED", D(8)),
    ("L10", "COMPETITOR", D(10, 13), "S3", "OPEN", None),
    ("L9", "PRICE", DEC(15), "S2", "UNRESOLVED", D(2)),
    ("L11", "NEED", D(2, 13), "S1", "OPEN", None),
]


@dataclass
class Fixture:
    pipeline_id: uuid.UUID
    stages: dict[str, uuid.UUID]
    members: dict[str, uuid.UUID]
    team_id: uuid.UUID


async def _fixture(database: Database, workspace_id: uuid.UUID) -> Fixture:
    ids = {name: uuid.uuid4() for name in ("pipeline", "S1", "S2", "S3", "S4", "A", "B", "T1")}
    stage_rows = [
        ("S1", "Prospect", 1, "0.1", 10, None),
        ("S2", "Present", 2, "0.4", 5, None),
        ("S3", "Close", 3, "0.8", None, None),
        ("S4", "Legacy", 4, "0.5", None, D(20)),
    ]
    async with unit_of_work(database, workspace_id=None) as session:

        async def run(sql: str, **params: Any) -> None:
            await session.execute(text(sql), {"ws": workspace_id, **params})

        for member in ("A", "B"):
            await run(
                "INSERT INTO members (workspace_id, id, email, name, role)"
                " VALUES (:ws, :id, :email, :name, 'REP')",
                id=ids[member],
                email=f"{member.lower()}@example.com",
                name=f"Owner {member}",
            )
        await run(
            "INSERT INTO teams (workspace_id, id, name) VALUES (:ws, :id, 'T1')", id=ids["T1"]
        )
        await run(
            "INSERT INTO pipelines (workspace_id, id, name, template)"
            " VALUES (:ws, :id, 'Sales', 'CUSTOM')",
            id=ids["pipeline"],
        )
        for key, name, position, probability, target, archived in stage_rows:
            await run(
                "INSERT INTO stages (workspace_id, id, pipeline_id, name, position,"
                " win_probability, target_days, archived_at)"
                " VALUES (:ws, :id, :p, :name, :pos, CAST(:prob AS numeric), :target, :archived)",
                id=ids[key],
                p=ids["pipeline"],
                name=name,
                pos=position,
                prob=probability,
                target=target,
                archived=archived,
            )
        positions = {row[0]: row[2] for row in stage_rows}
        for title, lead in LEADS.items():
            last = lead.visits[-1]
            status = {"WON": "WON", "LOST": "LOST"}.get(last[3] or "", "OPEN")
            await run(
                "INSERT INTO leads (workspace_id, id, title, source, pipeline_id, stage_id,"
                " stage_entered_at, owner_id, team_id, value_amount, value_currency, status,"
                " closed_at, expected_close_date, deleted_at, created_at, updated_at)"
                " VALUES (:ws, :id, :title, :source, :p, :stage, :entered, :owner, :team,"
                " CAST(:amount AS numeric), :currency, CAST(:status AS lead_status), :closed,"
                " :close_date, :deleted, :created, :created)",
                id=lead.id,
                title=title,
                source=lead.source,
                p=ids["pipeline"],
                stage=ids[last[0]],
                entered=last[1],
                owner=ids[lead.owner],
                team=ids["T1"] if lead.owner == "A" else None,
                amount=lead.value[0] if lead.value else None,
                currency=lead.value[1] if lead.value else None,
                status=status,
                closed=last[2] if status != "OPEN" else None,
                close_date=lead.expected_close,
                deleted=D(30) if lead.deleted else None,
                created=lead.created,
            )
            previous_exit: str | None = None
            for stage, entered, exited, exit_ in lead.visits:
                entry = {
                    None: "CREATED",
                    "FORWARD": "FORWARD",
                    "BACKWARD": "BACKWARD",
                    "LOST": "REOPENED",
                }[previous_exit]
                await run(
                    "INSERT INTO stage_visits (workspace_id, id, lead_id, pipeline_id, stage_id,"
                    " stage_position, entered_at, entry, exited_at, exit)"
                    " VALUES (:ws, :id, :lead, :p, :stage, :pos, :entered,"
                    " CAST(:entry AS visit_entry), :exited, CAST(:exit AS visit_exit))",
                    id=uuid.uuid4(),
                    lead=lead.id,
                    p=ids["pipeline"],
                    stage=ids[stage],
                    pos=positions[stage],
                    entered=entered,
                    entry=entry,
                    exited=exited,
                    exit=exit_,
                )
                previous_exit = exit_
        for title, kind, at, stage, outcome, seconds, extra in ACTIVITIES:
            lead = LEADS[title]
            await run(
                "INSERT INTO activities (workspace_id, id, lead_id, type, status, direction,"
                " occurred_at, duration_seconds, outcome, approach_method, closing_technique,"
                " pipeline_id, stage_id, completed_by_member_id, deleted_at)"
                " VALUES (:ws, :id, :lead, CAST(:type AS activity_type), 'COMPLETED',"
                " CAST(:direction AS direction), :at, :seconds,"
                " CAST(:outcome AS activity_outcome), CAST(:approach AS approach_method),"
                " CAST(:closing AS closing_technique), :p, :stage, :member, :deleted)",
                id=uuid.uuid4(),
                lead=lead.id,
                type=kind,
                direction=extra.get("direction", "OUTBOUND"),
                at=at,
                seconds=seconds,
                outcome=outcome,
                approach=extra.get("approach_method"),
                closing=extra.get("closing_technique"),
                p=ids["pipeline"],
                stage=ids[stage],
                member=ids[lead.owner],
                deleted=D(30) if extra.get("deleted") else None,
            )
        # Work that is not done counts nowhere: a planned follow-up and a canceled one.
        for status, canceled in (("PLANNED", None), ("CANCELED", D(20, 12))):
            await run(
                "INSERT INTO activities (workspace_id, id, lead_id, type, status, direction,"
                " due_at, canceled_at) VALUES (:ws, :id, :lead, 'CALL',"
                " CAST(:status AS activity_status), 'OUTBOUND', :at, :canceled)",
                id=uuid.uuid4(),
                lead=LEADS["L4"].id,
                status=status,
                at=D(20, 12),
                canceled=canceled,
            )
        for title, category, raised, stage, status, settled in OBJECTIONS:
            await run(
                "INSERT INTO objections (workspace_id, id, lead_id, category, customer_words,"
                " pipeline_id, stage_id, raised_at, status, settled_at)"
                " VALUES (:ws, :id, :lead, CAST(:category AS objection_category), 'Hmm.',"
                " :p, :stage, :raised, CAST(:status AS objection_status), :settled)",
                id=uuid.uuid4(),
                lead=LEADS[title].id,
                category=category,
                p=ids["pipeline"],
                stage=ids[stage],
                raised=raised,
                status=status,
                settled=settled,
            )
    return Fixture(
        ids["pipeline"],
        {key: ids[key] for key in ("S1", "S2", "S3", "S4")},
        {key: ids[key] for key in ("A", "B")},
        ids["T1"],
    )


@pytest.fixture
async def fixture(api: Api, database: Database) -> Fixture:
    # Every lead gets a fresh id per test run.
    for lead in LEADS.values():
        lead.id = uuid.uuid4()
    assert api.workspace_id is not None
    return await _fixture(database, api.workspace_id)


FUNNEL = """
query ($p: ID!, $w: MetricWindowInput!, $r: ReentryRule!, $f: MetricFilterInput) {
  metrics(pipelineId: $p, window: $w, filter: $f) {
    funnel(reentry: $r) {
      stage { name }
      entered advanced conversionRate lost stillOpen
      timeInStage { count meanSeconds medianSeconds p90Seconds }
      actions actionsPerEnteredLead openAtEnd stalled
    }
  }
}
"""


def _stage(
    name: str,
    entered: int,
    advanced: int,
    lost: int,
    still_open: int,
    days: Sequence[float],
    actions: int,
    open_at_end: int,
    stalled: int,
) -> dict[str, Any]:
    """A funnel row, with the time statistics computed from the hand-listed day counts."""
    ordered = sorted(days)
    n = len(ordered)
    median = None
    if n:
        median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2 * DAY
    return {
        "stage": {"name": name},
        "entered": entered,
        "advanced": advanced,
        "conversionRate": advanced / entered if entered else None,
        "lost": lost,
        "stillOpen": still_open,
        "timeInStage": {
            "count": n,
            "meanSeconds": pytest.approx(sum(ordered) / n * DAY) if n else None,
            "medianSeconds": median,
            # nearest rank: the ceil(0.9 n)-th smallest
            "p90Seconds": ordered[-(-9 * n // 10) - 1] * DAY if n else None,
        },
        "actions": actions,
        "actionsPerEnteredLead": actions / entered if entered else None,
        "openAtEnd": open_at_end,
        "stalled": stalled,
    }


async def test_funnel_first_entry_matches_the_hand_count(api: Api, fixture: Fixture) -> None:
    data = await api(FUNNEL, {"p": str(fixture.pipeline_id), "w": WINDOW, "r": "FIRST_ENTRY"})
    assert data["metrics"]["funnel"] == [
        # S1 first entries in January: L1 L2 L3 L4 L6 L7 L8 L12 L13 (L5, L9 entered in
        # December, L10 never, L11 is deleted). Advanced: L1 L2 L3 L6 L7 (on its second visit)
        # L12. Still there: L4 L8. Lost at S1 in January: L7 (D6), L13. Time of the leads that
        # left: L1 2, L2 3, L3 2+2, L6 1, L7 2+3, L12 1, L13 3 days. Actions at S1 in January:
        # L1 x2, L2, L3, L6 (inbound, still an action), L7 x2. Open at the end: L4 (27 days in
        # a 10-day stage: stalled) and L8 (7 days, no activity: not stalled).
        _stage("Prospect", 9, 6, 2, 2, [2, 3, 4, 1, 5, 1, 3], 7, 2, 1),
        # S2: L1 L2 L3 L5 L6 L7 L10 L12 (L9 entered in December). Advanced: L1 L3 L6 L7 (won at
        # S2) L10 L12; L5 is still there. Lost in January: L2, L9 (its visit began in
        # December). Times: L1 3, L2 3, L3 3+3, L6 2, L7 7, L10 5, L12 2. Actions: L1 MEETING
        # (its deleted EMAIL does not count), L2 x2, L3 MEETING and NOTE, L5, L6, L7, L9, L10.
        # Open at the end: L5, 29 days in a 5-day stage.
        _stage("Present", 8, 6, 2, 1, [3, 3, 6, 2, 7, 5, 2], 10, 1, 1),
        # S3: L1 L3 L6 L10 L12; advanced L1 L6 L12 (won on February 3); L3 still there; L10
        # lost. Times: L1 4, L6 7, L10 6, L12 3. Actions: L1 x2, L10. Open at the end: L3 and
        # L12 (until February 3); S3 has no target, so neither is stalled.
        _stage("Close", 5, 3, 1, 1, [4, 7, 6, 3], 3, 2, 0),
        # S4 is archived but had L10's first visit in January.
        _stage("Legacy", 1, 1, 0, 0, [2], 0, 0, 0),
    ]


async def test_funnel_every_entry_counts_each_visit(api: Api, fixture: Fixture) -> None:
    data = await api(FUNNEL, {"p": str(fixture.pipeline_id), "w": WINDOW, "r": "EVERY_ENTRY"})
    assert data["metrics"]["funnel"] == [
        # S1 visits begun in January: L1 L2 L3 L3 L4 L6 L7 L7 L8 L12 L13 = 11; advanced: L1 L2
        # L3 L3 L6 L7 (second) L12 = 7; lost: L7's first visit, L13.
        _stage("Prospect", 11, 7, 2, 2, [2, 3, 2, 2, 1, 2, 3, 1, 3], 7, 2, 1),
        # S2 visits: L1 L2 L3 L3 L5 L6 L7 L10 L12 = 9; L3's first visit went backward.
        _stage("Present", 9, 6, 2, 1, [3, 3, 3, 3, 2, 7, 5, 2], 10, 1, 1),
        _stage("Close", 5, 3, 1, 1, [4, 7, 6, 3], 3, 2, 0),
        _stage("Legacy", 1, 1, 0, 0, [2], 0, 0, 0),
    ]


OUTCOMES = """
query ($p: ID!, $w: MetricWindowInput!, $f: MetricFilterInput) {
  metrics(pipelineId: $p, window: $w, filter: $f) {
    outcomes {
      createdLeads won lost winRate medianSalesCycleDays meanSalesCycleDays actions
      openLeads stalledLeads
      byCurrency {
        currency wonWithValue wonValue averageDealSize openWithValue pipelineValue
        weightedForecast salesVelocity
      }
      forecastByMonth { month currency leads pipelineValue weightedForecast }
    }
  }
}
"""


async def test_outcomes_match_the_hand_count(api: Api, fixture: Fixture) -> None:
    data = await api(OUTCOMES, {"p": str(fixture.pipeline_id), "w": WINDOW})
    assert data["metrics"]["outcomes"] == {
        # created in January: L1 L2 L3 L4 L6 L7 L8 L10 L12 L13
        "createdLeads": 10,
        # won in January: L1, L6, L7 (lost on D6, reopened, won on D25: counts once, as won)
        "won": 3,
        # lost: L2, L9, L10, L13; L12 was won in February, L11 is deleted
        "lost": 4,
        "winRate": 3 / 7,
        # cycles: L1 9, L6 10, L7 21 days
        "medianSalesCycleDays": 10.0,
        "meanSalesCycleDays": pytest.approx(40 / 3),
        "actions": 20,
        # open just before February 1: L3 (S3), L4 (S1), L5 (S2), L8 (S1), L12 (S3)
        "openLeads": 5,
        "stalledLeads": 2,  # L4 and L5
        "byCurrency": [
            {
                "currency": "EUR",
                "wonWithValue": 2,  # L1 1000, L7 1500
                "wonValue": "2500.0000",
                "averageDealSize": "1250.0000",
                "openWithValue": 4,  # L3 3000, L5 500, L8 4000, L12 10000
                "pipelineValue": "17500.0000",
                # 3000 * 0.8 + 500 * 0.4 + 4000 * 0.1 + 10000 * 0.8
                "weightedForecast": "11000.0000",
                # 5 open * 3/7 * 1250 / (40/3 days) = 200.892857...
                "salesVelocity": "200.8929",
            },
            {
                "currency": "USD",
                "wonWithValue": 1,  # L6
                "wonValue": "800.0000",
                "averageDealSize": "800.0000",
                "openWithValue": 0,
                "pipelineValue": "0.0000",
                "weightedForecast": "0.0000",
                # 5 * 3/7 * 800 / (40/3) = 128.571428...
                "salesVelocity": "128.5714",
            },
        ],
        "forecastByMonth": [
            {
                "month": "2026-02-01",  # L5
                "currency": "EUR",
                "leads": 1,
                "pipelineValue": "500.0000",
                "weightedForecast": "200.0000",
            },
            {
                "month": "2026-03-01",  # L3 and L8
                "currency": "EUR",
                "leads": 2,
                "pipelineValue": "7000.0000",
                "weightedForecast": "2800.0000",
            },
            {
                "month": None,  # L12
                "currency": "EUR",
                "leads": 1,
                "pipelineValue": "10000.0000",
                "weightedForecast": "8000.0000",
            },
        ],
    }


PERSISTENCE = """
query ($p: ID!, $w: MetricWindowInput!) {
  metrics(pipelineId: $p, window: $w) {
    persistence {
      touchesBeforeWin { leads buckets { touches leads } shareFiveOrMore shareZero }
      touchesAfterRejection { leads buckets { touches leads } shareFiveOrMore shareZero }
      lostWithoutRejection
    }
  }
}
"""


def _buckets(**counts: int) -> list[dict[str, int]]:
    return [{"touches": t, "leads": counts.get(f"t{t}", 0)} for t in range(6)]


async def test_persistence_matches_the_hand_count(api: Api, fixture: Fixture) -> None:
    data = await api(PERSISTENCE, {"p": str(fixture.pipeline_id), "w": WINDOW})
    assert data["metrics"]["persistence"] == {
        # L1: CALL, EMAIL, MEETING, DEMO, CALL = 5 (the deleted EMAIL does not count);
        # L6: one EMAIL (its CALL was inbound); L7: CALL, CALL, MEETING = 3.
        "touchesBeforeWin": {
            "leads": 3,
            "buckets": _buckets(t1=1, t3=1, t5=1),
            "shareFiveOrMore": 1 / 3,
            "shareZero": 0.0,
        },
        # L2: rejected by EMAIL on D6, one CALL after; L9 and L10: nothing after the rejection.
        "touchesAfterRejection": {
            "leads": 3,
            "buckets": _buckets(t0=2, t1=1),
            "shareFiveOrMore": 0.0,
            "shareZero": 2 / 3,
        },
        "lostWithoutRejection": 1,  # L13
    }


WORK = """
query ($p: ID!, $w: MetricWindowInput!) {
  metrics(pipelineId: $p, window: $w) {
    activityMix { type outcome count durationSeconds countShare timeShare }
    approachMethods { method leads advanced conversionRate }
    closingTechniques { technique leads advanced conversionRate }
    objections { category raised resolved resolutionRate leads wonLeads lostLeads winRate }
    leaderboard {
      member { name } createdLeads won lost winRate medianSalesCycleDays actions
      wonValue { amount currency }
    }
  }
}
"""


async def test_where_the_work_goes_matches_the_hand_count(api: Api, fixture: Fixture) -> None:
    data = (await api(WORK, {"p": str(fixture.pipeline_id), "w": WINDOW}))["metrics"]
    total_seconds = 16_620
    mix = [
        ("CALL", "NEGATIVE", 3, 1500),  # L7, L9, L10
        ("CALL", "NEUTRAL", 1, 600),  # L2
        ("CALL", "NO_RESPONSE", 2, 900),  # L2, L5
        ("CALL", "POSITIVE", 5, 3300),  # L1 x2, L3, L6, L7
        ("DEMO", "POSITIVE", 1, 1800),
        ("EMAIL", "NEGATIVE", 1, 300),
        ("EMAIL", "NEUTRAL", 1, 300),
        ("EMAIL", "POSITIVE", 2, 600),  # L6, L10
        ("MEETING", "NEGATIVE", 1, 1800),
        ("MEETING", "POSITIVE", 2, 5400),  # L1, L7
        ("NOTE", None, 1, 120),
    ]
    assert data["activityMix"] == [
        {
            "type": kind,
            "outcome": outcome,
            "count": count,
            "durationSeconds": seconds,
            "countShare": count / 20,
            "timeShare": seconds / total_seconds,
        }
        for kind, outcome, count, seconds in mix
    ]
    assert data["approachMethods"] == [
        {"method": "GIFT", "leads": 1, "advanced": 0, "conversionRate": 0.0},  # L2 lost at S2
        {"method": "PRODUCT_TRIAL", "leads": 1, "advanced": 1, "conversionRate": 1.0},  # L3
        {"method": "QUESTION", "leads": 2, "advanced": 2, "conversionRate": 1.0},  # L1, L6
    ]
    assert data["closingTechniques"] == [
        {"technique": "ALTERNATIVE_CHOICE", "leads": 1, "advanced": 1, "conversionRate": 1.0},
        {"technique": "INCENTIVE", "leads": 1, "advanced": 1, "conversionRate": 1.0},  # L7
        # L1 won from S3, L10 lost there
        {"technique": "URGENCY", "leads": 2, "advanced": 1, "conversionRate": 0.5},
    ]
    assert data["objections"] == [
        {
            "category": "COMPETITOR",  # L10, open, lead lost
            "raised": 1,
            "resolved": 0,
            "resolutionRate": 0.0,
            "leads": 1,
            "wonLeads": 0,
            "lostLeads": 1,
            "winRate": 0.0,
        },
        {
            "category": "PRICE",  # L2 (lost), L3 (open), L1 (won); L9's was in December
            "raised": 3,
            "resolved": 2,
            "resolutionRate": 2 / 3,
            "leads": 3,
            "wonLeads": 1,
            "lostLeads": 1,
            "winRate": 0.5,
        },
        {
            "category": "TIMING",  # L7, won
            "raised": 1,
            "resolved": 1,
            "resolutionRate": 1.0,
            "leads": 1,
            "wonLeads": 1,
            "lostLeads": 0,
            "winRate": 1.0,
        },
    ]
    assert data["leaderboard"] == [
        {
            # A owns L1 L2 L5 L7 L9 L12: created in January L1 L2 L7 L12; won L1 L7; lost L2
            # L9; cycles 9 and 21 days; actions on L1 (5), L2 (3), L5 (1), L7 (3), L9 (1).
            "member": {"name": "Owner A"},
            "createdLeads": 4,
            "won": 2,
            "lost": 2,
            "winRate": 0.5,
            "medianSalesCycleDays": 15.0,
            "actions": 13,
            "wonValue": [{"amount": "2500.0000", "currency": "EUR"}],
        },
        {
            # B owns L3 L4 L6 L8 L10 L13: all created in January; won L6; lost L10 L13.
            "member": {"name": "Owner B"},
            "createdLeads": 6,
            "won": 1,
            "lost": 2,
            "winRate": 1 / 3,
            "medianSalesCycleDays": 10.0,
            "actions": 7,
            "wonValue": [{"amount": "800.0000", "currency": "USD"}],
        },
    ]


PROCESS_MAP = """
query ($p: ID!, $w: MetricWindowInput!) {
  processMap(pipelineId: $p, window: $w) {
    pipeline { name } from to reentry
    stages {
      stage { name }
      funnel { entered advanced lost actions }
      activities { type count durationSeconds }
      approachMethods { method leads advanced }
      closingTechniques { technique leads advanced }
      objections { category raised resolved }
    }
  }
}
"""


async def test_the_process_map_puts_each_stage_with_its_work(
    api: Api, fixture: Fixture, statements: StatementCounter
) -> None:
    variables = {"p": str(fixture.pipeline_id), "w": WINDOW}
    empty = {
        "p": str(fixture.pipeline_id),
        "w": {"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"},
    }
    await api(PROCESS_MAP, empty)  # the key's first use also records when it was used
    with statements.counting() as sent:
        data = (await api(PROCESS_MAP, variables))["processMap"]
    assert data["pipeline"] == {"name": "Sales"}
    assert (data["from"], data["to"], data["reentry"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
        "FIRST_ENTRY",
    )
    names = [stage["stage"]["name"] for stage in data["stages"]]
    assert names == ["Prospect", "Present", "Close", "Legacy"]
    prospect, present, close, legacy = data["stages"]
    assert prospect["funnel"] == {"entered": 9, "advanced": 6, "lost": 2, "actions": 7}
    assert prospect["activities"] == [
        {"type": "CALL", "count": 6, "durationSeconds": 3900},
        {"type": "EMAIL", "count": 1, "durationSeconds": 300},
    ]
    assert prospect["objections"] == [{"category": "TIMING", "raised": 1, "resolved": 1}]
    assert present["activities"] == [
        {"type": "CALL", "count": 3, "durationSeconds": 1200},  # L2, L5, L9
        {"type": "EMAIL", "count": 3, "durationSeconds": 900},  # L2, L6, L10
        {"type": "MEETING", "count": 3, "durationSeconds": 7200},  # L1, L3, L7
        {"type": "NOTE", "count": 1, "durationSeconds": 120},
    ]
    assert present["approachMethods"] == [
        {"method": "GIFT", "leads": 1, "advanced": 0},
        {"method": "PRODUCT_TRIAL", "leads": 1, "advanced": 1},
        {"method": "QUESTION", "leads": 2, "advanced": 2},
    ]
    assert present["closingTechniques"] == [{"technique": "INCENTIVE", "leads": 1, "advanced": 1}]
    assert present["objections"] == [{"category": "PRICE", "raised": 2, "resolved": 1}]
    assert close["closingTechniques"] == [
        {"technique": "ALTERNATIVE_CHOICE", "leads": 1, "advanced": 1},
        {"technique": "URGENCY", "leads": 2, "advanced": 1},
    ]
    assert close["objections"] == [
        {"category": "COMPETITOR", "raised": 1, "resolved": 0},
        {"category": "PRICE", "raised": 1, "resolved": 1},
    ]
    assert legacy["activities"] == []
    assert legacy["objections"] == []
    # The same statements for an empty window: bounded by the query's shape, not the rows.
    with statements.counting() as sent_empty:
        await api(PROCESS_MAP, empty)
    # The key, the pipeline, the sort memory, funnel, stage state, activities, techniques,
    # objections, the stages.
    assert len(sent) == len(sent_empty) <= 9


async def test_filters_select_leads_by_owner_team_and_source(api: Api, fixture: Fixture) -> None:
    p = str(fixture.pipeline_id)
    by_team = await api(OUTCOMES, {"p": p, "w": WINDOW, "f": {"teamIds": [str(fixture.team_id)]}})
    outcome = by_team["metrics"]["outcomes"]
    # Team T1 is owner A's: won L1 L7, lost L2 L9; open at the end L5 and L12.
    assert (outcome["won"], outcome["lost"], outcome["openLeads"]) == (2, 2, 2)
    by_owner = await api(
        OUTCOMES, {"p": p, "w": WINDOW, "f": {"ownerIds": [str(fixture.members["B"])]}}
    )
    assert by_owner["metrics"]["outcomes"]["createdLeads"] == 6
    by_source = await api(
        FUNNEL, {"p": p, "w": WINDOW, "r": "FIRST_ENTRY", "f": {"sources": ["referral"]}}
    )
    # Referral leads are L3 and L5: L3 entered S1 and S2 in January, L5 only S2.
    entered = {row["stage"]["name"]: row["entered"] for row in by_source["metrics"]["funnel"]}
    assert entered == {"Prospect": 1, "Present": 2, "Close": 1}
    both = await api(
        OUTCOMES,
        {
            "p": p,
            "w": WINDOW,
            "f": {"ownerIds": [str(fixture.members["B"])], "sources": ["referral"]},
        },
    )
    assert both["metrics"]["outcomes"]["createdLeads"] == 1  # L3


TREND = """
query ($p: ID!, $w: MetricWindowInput!, $m: TrendMetric!, $b: TrendBucket!, $c: String) {
  metrics(pipelineId: $p, window: $w) { trend(metric: $m, bucket: $b, currency: $c) {
    from to value amount
  } }
}
"""


async def test_a_trend_is_the_metric_over_each_bucket(api: Api, fixture: Fixture) -> None:
    p = str(fixture.pipeline_id)
    weekly = await api(TREND, {"p": p, "w": WINDOW, "m": "WON_LEADS", "b": "WEEK"})
    points = weekly["metrics"]["trend"]
    # ISO weeks, clipped to January: [Jan 1, Jan 5), [5, 12), [12, 19), [19, 26), [26, Feb 1)
    assert [point["from"][:10] for point in points] == [
        "2026-01-01",
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
        "2026-01-26",
    ]
    assert points[-1]["to"] == "2026-02-01T00:00:00+00:00"
    # L1 won on Jan 10, L6 on Jan 20, L7 on Jan 25
    assert [point["value"] for point in points] == [0, 1, 0, 2, 0]
    monthly = await api(
        TREND, {"p": p, "w": WINDOW, "m": "PIPELINE_VALUE", "b": "MONTH", "c": "EUR"}
    )
    assert monthly["metrics"]["trend"] == [
        {
            "from": "2026-01-01T00:00:00+00:00",
            "to": "2026-02-01T00:00:00+00:00",
            "value": 17500.0,
            "amount": "17500.0000",
        }
    ]
    rate = await api(TREND, {"p": p, "w": WINDOW, "m": "WIN_RATE", "b": "WEEK"})
    # Week 1: L9 lost (Jan 2): 0; week 2: L1 won, L2 L13 lost: 1/3; week 3: L10 lost: 0;
    # week 4: L6, L7 won: 1; week 5: nothing closed: null.
    assert [point["value"] for point in rate["metrics"]["trend"]] == [0.0, 1 / 3, 0.0, 1.0, None]
    given_up = await api(
        TREND, {"p": p, "w": WINDOW, "m": "SHARE_OF_REJECTED_GIVEN_UP", "b": "MONTH"}
    )
    assert given_up["metrics"]["trend"][0]["value"] == 2 / 3
    missing_currency = await api.post(TREND, {"p": p, "w": WINDOW, "m": "WON_VALUE", "b": "DAY"})
    error = missing_currency.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == ["currency"]


async def test_an_empty_window_counts_nothing(api: Api, fixture: Fixture) -> None:
    window = {"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}
    data = await api(OUTCOMES, {"p": str(fixture.pipeline_id), "w": window})
    outcome = data["metrics"]["outcomes"]
    assert outcome["won"] == outcome["lost"] == outcome["openLeads"] == 0
    assert outcome["winRate"] is None
    assert outcome["medianSalesCycleDays"] is None
    assert outcome["byCurrency"] == []
    assert outcome["forecastByMonth"] == []
    funnel = await api(FUNNEL, {"p": str(fixture.pipeline_id), "w": window, "r": "FIRST_ENTRY"})
    rows = funnel["metrics"]["funnel"]
    # The archived stage had nothing then, so only the three active stages are listed.
    assert [row["stage"]["name"] for row in rows] == ["Prospect", "Present", "Close"]
    assert all(row["entered"] == 0 and row["conversionRate"] is None for row in rows)


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, ["window", "to"]),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, ["window", "to"]),
        ({"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, ["window", "to"]),
    ],
)
async def test_a_bad_window_is_refused_naming_the_field(
    api: Api, fixture: Fixture, window: dict[str, str], field: list[str]
) -> None:
    response = await api.post(OUTCOMES, {"p": str(fixture.pipeline_id), "w": window})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field


async def test_a_daily_trend_over_ten_years_is_refused(api: Api, fixture: Fixture) -> None:
    window = {"from": "2017-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    response = await api.post(
        TREND, {"p": str(fixture.pipeline_id), "w": window, "m": "WON_LEADS", "b": "DAY"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_another_workspace_reaches_no_metric(
    api: Api, other_api: Api, fixture: Fixture
) -> None:
    variables = {"p": str(fixture.pipeline_id), "w": WINDOW}
    assert (await other_api(OUTCOMES, variables)) == {"metrics": None}
    assert (await other_api(PROCESS_MAP, variables)) == {"processMap": None}
    # Its own pipeline's metrics count none of the first workspace's leads, even when
    # filtered by that workspace's owners.
    mine = await other_api("{ pipelines { id } }")
    own = mine["pipelines"][0]["id"]
    owner_filter = {"ownerIds": [str(fixture.members["A"])]}
    for filter in (None, owner_filter):
        data = await other_api(OUTCOMES, {"p": own, "w": WINDOW, "f": filter})
        outcome = data["metrics"]["outcomes"]
        assert (outcome["createdLeads"], outcome["won"], outcome["openLeads"]) == (0, 0, 0)
        funnel = await other_api(FUNNEL, {"p": own, "w": WINDOW, "r": "EVERY_ENTRY", "f": filter})
        assert all(row["entered"] == 0 for row in funnel["metrics"]["funnel"])
    # A malformed id names nothing, like an unknown one.
    assert (await api(OUTCOMES, {"p": "nope", "w": WINDOW})) == {"metrics": None}
