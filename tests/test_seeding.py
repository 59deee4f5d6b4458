"""Demo seeding: deterministic, consistent, shaped like its printed parameters, written by COPY.

Seeding writes through temporary staging tables and one INSERT per table (salesgraph.seeding);
these tests read the rows back with SQL and check them against the invariants the application
keeps (one open visit per open lead, stages of activities, the trigger-kept totals) and against
the parameters the histories were drawn from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph import demo
from salesgraph.db.engine import Database, create_database
from salesgraph.db.unit_of_work import read_session, unit_of_work

pytestmark = pytest.mark.anyio

BIN = Path(sys.executable).parent / "salesgraph"
UNTIL = datetime(2026, 3, 2, tzinfo=UTC)
# Tables holding the seeded histories; each is digested with stage ids replaced by positions
# (stages are created with the workspace, so their ids differ from one workspace to another).
DIGESTED = ("leads", "stage_visits", "activities", "objections", "lead_stage_totals")
UNSTAGED = ("members", "teams", "handoffs")
COUNT = "SELECT count(*) FROM {table} WHERE workspace_id = :ws"


async def seed(database: Database, plan: demo.DemoPlan) -> demo.SeedReport:
    async with unit_of_work(database, workspace_id=None) as session:
        return await demo.seed_demo(session, plan)


async def scalar(session: AsyncSession, sql: str, workspace_id: uuid.UUID) -> object:
    """One value of a query over the workspace's rows (`:ws`, and `:until` the history's end)."""
    return (await session.execute(text(sql), {"ws": workspace_id, "until": UNTIL})).scalar_one()


def named(template: str, **names: str) -> str:
    """A query over table and column names of this module's own (never outside input)."""
    return template.format(**names)


async def digest(database: Database, workspace_id: uuid.UUID) -> dict[str, str]:
    """An md5 per table of the workspace's rows, independent of the workspace's own ids."""
    found = {}
    async with read_session(database, workspace_id=None) as session:
        for table in DIGESTED:
            order = "x.lead_id, s.position" if table == "lead_stage_totals" else "x.id"
            found[table] = str(
                await scalar(
                    session,
                    named(
                        """SELECT md5(string_agg(
                             (to_jsonb(x) - 'workspace_id' - 'pipeline_id' - 'stage_id')::text
                             || s.position, '|' ORDER BY {order}))
                           FROM {table} x JOIN stages s
                             ON s.workspace_id = x.workspace_id AND s.id = x.stage_id
                           WHERE x.workspace_id = :ws""",
                        table=table,
                        order=order,
                    ),
                    workspace_id,
                )
            )
        for table in UNSTAGED:
            found[table] = str(
                await scalar(
                    session,
                    # (the admin member is made with the workspace, like the stages)
                    named(
                        """SELECT md5(string_agg((to_jsonb(x) - 'workspace_id')::text, '|'
                                                 ORDER BY x.id))
                           FROM {table} x WHERE x.workspace_id = :ws
                             AND NOT (to_jsonb(x) @> '{{"role": "ADMIN"}}')""",
                        table=table,
                    ),
                    workspace_id,
                )
            )
    return found


async def test_the_same_seed_gives_the_same_rows_and_another_seed_others(
    database: Database,
) -> None:
    # given the same plan seeded twice (in chunks of different sizes) and once with another seed
    plan = demo.DemoPlan(leads=400, seed=11, until=UNTIL, events=False)
    first = await seed(database, plan)
    again = await seed(database, replace(plan, chunk_size=97))
    other = await seed(database, replace(plan, seed=12))

    # then the first two hold identical rows, and the third different ones
    digests = [await digest(database, report.workspace_id) for report in (first, again, other)]
    assert digests[0] == digests[1]
    assert all(digests[2][table] != digests[0][table] for table in DIGESTED)
    assert first.rows == again.rows
    assert first.workspace_id != again.workspace_id


async def test_seeded_histories_keep_the_applications_invariants(database: Database) -> None:
    report = await seed(database, demo.DemoPlan(leads=1500, seed=5, until=UNTIL, chunk_size=400))
    ws = report.workspace_id

    async with read_session(database, workspace_id=None) as session:

        async def count(sql: str) -> int:
            value = await scalar(session, sql, ws)
            assert isinstance(value, int)
            return value

        # every row written is in the workspace, as many as the report says (besides the events
        # of creating the workspace, which belong to no lead)
        for table, rows in report.rows.items():
            query = named(COUNT, table=table)
            if table == "domain_events":
                query += " AND lead_id IS NOT NULL"
            assert await count(query) == rows
        assert report.rows["leads"] == 1500
        assert await count("SELECT count(*) FROM leads WHERE workspace_id = :ws") == 1500

        # an open lead has exactly one open visit, a closed lead none
        assert not await count(
            """SELECT count(*) FROM leads l WHERE l.workspace_id = :ws AND
                 (SELECT count(*) FROM stage_visits v WHERE v.workspace_id = l.workspace_id
                    AND v.lead_id = l.id AND v.exited_at IS NULL)
                 <> CASE WHEN l.status = 'OPEN' THEN 1 ELSE 0 END"""
        )
        # the lead's stage (and when it entered it) is its last visit's; a closed lead was
        # closed by that visit's exit, at its exit time
        assert not await count(
            """SELECT count(*) FROM leads l
               JOIN LATERAL (SELECT * FROM stage_visits v
                             WHERE v.workspace_id = l.workspace_id AND v.lead_id = l.id
                             ORDER BY v.entered_at DESC, v.id DESC LIMIT 1) last ON true
               WHERE l.workspace_id = :ws AND (
                 last.stage_id <> l.stage_id OR last.entered_at <> l.stage_entered_at
                 OR (l.status <> 'OPEN' AND (last.exit::text <> l.status::text
                                             OR last.exited_at <> l.closed_at)))"""
        )
        # visits follow each other: each begins when the previous ended (or after a loss,
        # when the lead was reopened), and the first one is the creation
        assert not await count(
            """SELECT count(*) FROM (
                 SELECT v.*, lag(v.exited_at) OVER w AS previous_exit,
                        lag(v.exit) OVER w AS previous, row_number() OVER w AS n
                 FROM stage_visits v WHERE v.workspace_id = :ws
                 WINDOW w AS (PARTITION BY v.lead_id ORDER BY v.entered_at, v.id)) v
               JOIN leads l ON l.workspace_id = v.workspace_id AND l.id = v.lead_id
               WHERE (v.n = 1 AND (v.entry <> 'CREATED' OR v.entered_at <> l.created_at))
                  OR (v.n > 1 AND v.previous IS NULL)
                  OR (v.n > 1 AND v.entry = 'REOPENED' AND (v.previous <> 'LOST'
                      OR v.entered_at <= v.previous_exit))
                  OR (v.n > 1 AND v.entry <> 'REOPENED' AND (v.entry::text <> v.previous::text
                      OR v.entered_at <> v.previous_exit))"""
        )
        assert await count(
            "SELECT count(*) FROM stage_visits WHERE workspace_id = :ws AND entry = 'REOPENED'"
        )
        # lead_stage_totals are what the trigger recomputes from the visits
        assert not await count(
            """WITH expected AS (
                 SELECT lead_id, stage_id, pipeline_id, min(entered_at) AS first_entered_at,
                        count(*)::int AS visit_count,
                        (count(*) FILTER (WHERE exited_at IS NULL))::int AS open_visit_count,
                        coalesce(sum(exited_at - entered_at), interval '0') AS time_in_stage,
                        coalesce(bool_or(exit IN ('FORWARD', 'WON')), false) AS advanced,
                        max(exited_at) AS last_exited_at
                 FROM stage_visits WHERE workspace_id = :ws
                 GROUP BY lead_id, stage_id, pipeline_id),
               stored AS (
                 SELECT lead_id, stage_id, pipeline_id, first_entered_at, visit_count,
                        open_visit_count, time_in_stage, advanced, last_exited_at
                 FROM lead_stage_totals WHERE workspace_id = :ws)
               SELECT count(*) FROM (
                 (SELECT * FROM expected EXCEPT ALL SELECT * FROM stored)
                 UNION ALL (SELECT * FROM stored EXCEPT ALL SELECT * FROM expected)) d"""
        )
        # a completed activity (an objection) has the stage of the visit covering its time,
        # and happened before that visit ended and before `until`
        for table, at in (("activities", "occurred_at"), ("objections", "raised_at")):
            assert not await count(
                named(
                    """SELECT count(*) FROM {table} a
                       JOIN LATERAL (SELECT * FROM stage_visits v
                                     WHERE v.workspace_id = a.workspace_id
                                       AND v.lead_id = a.lead_id AND v.entered_at <= a.{at}
                                     ORDER BY v.entered_at DESC, v.id DESC LIMIT 1) v ON true
                       WHERE a.workspace_id = :ws AND a.{at} IS NOT NULL AND (
                         v.stage_id <> a.stage_id OR a.{at} >= coalesce(v.exited_at, 'infinity')
                         OR a.{at} >= :until)""",
                    table=table,
                    at=at,
                )
            )
        assert await count(
            """SELECT count(*) FROM activities WHERE workspace_id = :ws
               AND status = 'COMPLETED' AND approach_method IS NOT NULL"""
        )
        # planned follow-ups are on open leads only; the leads' summaries match their activities
        assert not await count(
            """SELECT count(*) FROM activities a JOIN leads l
                 ON l.workspace_id = a.workspace_id AND l.id = a.lead_id
               WHERE a.workspace_id = :ws AND a.status = 'PLANNED' AND l.status <> 'OPEN'"""
        )
        assert not await count(
            """SELECT count(*) FROM leads l WHERE l.workspace_id = :ws AND (
                 l.next_follow_up_at IS DISTINCT FROM (
                   SELECT min(due_at) FROM activities a WHERE a.workspace_id = l.workspace_id
                     AND a.lead_id = l.id AND a.status = 'PLANNED')
                 OR l.last_activity_at IS DISTINCT FROM (
                   SELECT max(occurred_at) FROM activities a
                   WHERE a.workspace_id = l.workspace_id AND a.lead_id = l.id
                     AND a.status = 'COMPLETED'))"""
        )
        assert await count(
            "SELECT count(*) FROM leads WHERE workspace_id = :ws AND next_follow_up_at IS NOT NULL"
        )
        # a handed lead is owned by the receiver of its handoff, a member of the receiving team
        assert not await count(
            """SELECT count(*) FROM handoffs h JOIN leads l
                 ON l.workspace_id = h.workspace_id AND l.id = h.lead_id
               WHERE h.workspace_id = :ws AND (l.owner_id <> h.to_owner_id
                 OR l.team_id <> h.to_team_id OR NOT EXISTS (
                   SELECT FROM team_memberships m WHERE m.workspace_id = h.workspace_id
                     AND m.team_id = h.to_team_id AND m.member_id = h.to_owner_id))"""
        )
        # open leads only have expected close dates; values are in one currency
        assert not await count(
            """SELECT count(*) FROM leads WHERE workspace_id = :ws
               AND expected_close_date IS NOT NULL AND status <> 'OPEN'"""
        )
        assert not await count(
            "SELECT count(*) FROM leads WHERE workspace_id = :ws AND value_currency <> 'EUR'"
        )
        # and the events of the small demo: every lead's creation, every logged activity
        assert await count(
            """SELECT count(*) FROM domain_events
               WHERE workspace_id = :ws AND type = 'lead.created'"""
        ) == await count("SELECT count(*) FROM leads WHERE workspace_id = :ws")
        assert await count(
            """SELECT count(*) FROM domain_events
               WHERE workspace_id = :ws AND type = 'activity.logged'"""
        ) == await count(
            "SELECT count(*) FROM activities WHERE workspace_id = :ws AND status = 'COMPLETED'"
        )


async def test_the_observed_shape_is_the_printed_one(database: Database) -> None:
    plan = demo.DemoPlan(leads=2000, seed=21, until=UNTIL, events=False)
    report = await seed(database, plan)
    first = plan.shape.stages[0]

    async with read_session(database, workspace_id=None) as session:
        row = (
            await session.execute(
                text(
                    """SELECT count(*) FILTER (WHERE v.exit = 'FORWARD') AS advanced,
                              count(*) FILTER (WHERE v.exit = 'LOST') AS lost,
                              count(*) AS left,
                              avg(extract(epoch FROM v.exited_at - v.entered_at) / 86400) AS days,
                              avg((SELECT count(*) FROM activities a
                                   WHERE a.workspace_id = v.workspace_id
                                     AND a.lead_id = v.lead_id AND a.stage_id = v.stage_id
                                     AND a.occurred_at >= v.entered_at
                                     AND a.occurred_at < v.exited_at)) AS activities
                       FROM stage_visits v
                       WHERE v.workspace_id = :ws AND v.stage_position = 1
                         AND v.exited_at IS NOT NULL"""
                ),
                {"ws": report.workspace_id},
            )
        ).one()
        reopened, lost = (
            await session.execute(
                text(
                    """SELECT count(*) FILTER (WHERE entry = 'REOPENED'),
                              count(*) FILTER (WHERE exit = 'LOST')
                       FROM stage_visits WHERE workspace_id = :ws"""
                ),
                {"ws": report.workspace_id},
            )
        ).one()
    assert row.left > 1500
    assert row.advanced / row.left == pytest.approx(first.advance, abs=0.05)
    assert row.lost / row.left == pytest.approx(first.lost, abs=0.05)
    assert float(row.activities) == pytest.approx(first.activities, rel=0.15)
    # finished visits are a little shorter than all visits (the longest are still going on)
    assert float(row.days) == pytest.approx(first.mean_days, rel=0.2)
    assert reopened / lost == pytest.approx(plan.shape.reopen_share, abs=0.03)
    assert report.statuses["OPEN"] > 0
    assert report.statuses["WON"] > 0


def salesgraph(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SALESGRAPH_")
    }
    environment["SALESGRAPH_DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 - our own console script
        [str(BIN), *args], capture_output=True, text=True, env=environment, check=False, timeout=120
    )


def test_the_command_prints_its_parameters_then_counts_and_timings(database_url: str) -> None:
    result = salesgraph(
        "seed-demo",
        "--leads",
        "300",
        "--seed",
        "4",
        "--until",
        "2026-03-02",
        "--reopen-share",
        "0.1",
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout
    plan = demo.DemoPlan(
        leads=300,
        seed=4,
        until=UNTIL,
        shape=replace(demo.DemoShape(), reopen_share=0.1),
        events=False,
    )
    # every parameter line, before the progress, counts and timings
    lines = output.splitlines()
    assert lines[: len(plan.describe())] == plan.describe()
    assert "reopened: 10% of lost leads" in output
    assert "1 Prospecting                 0.60  0.00  0.40       10.0" in output
    assert "domain events: not written" in output
    assert "300 of 300 leads written" in output
    assert "rows: leads 300, stage_visits " in output
    assert "rows/s" in output
    assert lines[-1].startswith("admin API key (shown once): sg_")

    # and the range of --leads reaches a million, not more
    too_many = salesgraph("seed-demo", "--leads", "1000001", database_url=database_url)
    assert too_many.returncode == 2
    assert "1000000" in too_many.stderr


# --- an owner bound by row-level security (no superuser): COPY goes through staging --------------


async def test_an_owner_bound_by_row_level_security_seeds_through_staging(
    own_owner: str,
) -> None:
    database = create_database(own_owner, pool_size=1, max_overflow=0, all_workspaces=True)
    try:
        report = await seed(database, demo.DemoPlan(leads=300, seed=3, until=UNTIL))
        async with database.engine.connect() as connection:
            # the owner cannot COPY into a table whose row-level security binds it
            raw = await connection.get_raw_connection()
            with pytest.raises(Exception, match="row-level security"):
                await raw.driver_connection.copy_records_to_table(
                    "teams",
                    records=[(uuid.uuid4(), report.workspace_id, "Copied")],
                    columns=["id", "workspace_id", "name"],
                )
        async with read_session(database, workspace_id=report.workspace_id) as session:
            for table in ("leads", "stage_visits", "activities", "lead_stage_totals"):
                assert (
                    await scalar(
                        session,
                        named(COUNT, table=table),
                        report.workspace_id,
                    )
                    == report.rows[table]
                )
    finally:
        await database.dispose()
