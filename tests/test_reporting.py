"""SQL access for BI tools: the reporting views, and reader roles confined to one workspace.

Readers connect to the real database as the login roles `salesgraph reporting-role create`
makes. Roles belong to the whole server, so every test names its roles uniquely and drops them
at the end.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from salesgraph.db.engine import APP_ROLE, Database, create_database
from salesgraph.db.scratch import execute_on_server
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.errors import DomainError, ErrorCode
from salesgraph.reporting import roles
from tests.conftest import new_workspace

pytestmark = pytest.mark.anyio

BIN = Path(sys.executable).parent / "salesgraph"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reporting.md"
VIEWS = {
    "pipelines",
    "stages",
    "members",
    "leads",
    "stage_visits",
    "lead_stages",
    "activities",
    "objections",
    "funnel_daily",
}
# What each view shows of one seeded workspace (see `seed`).
ROWS_PER_VIEW = {
    "pipelines": 1,
    "stages": 7,
    "members": 1,
    "leads": 3,  # A, B, D; C is deleted
    "stage_visits": 6,  # A's four, B's and D's
    "lead_stages": 4,  # A at stages 1 and 2, B at 1, D at 2
    "activities": 5,  # A's call, email, planned task and canceled meeting; B's note
    "objections": 2,
    "funnel_daily": 4,
}
DAY_1 = datetime(2026, 1, 5, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


# --- a tiny workspace whose funnel is counted by hand ----------------------------------------


@dataclass(frozen=True)
class Seeded:
    workspace_id: uuid.UUID
    name: str
    stages: tuple[uuid.UUID, ...]  # by position
    leads: dict[str, uuid.UUID]


async def seed(database: Database, name: str) -> Seeded:
    """A workspace (the seven-stage pipeline) with four leads, as the owner writes rows.

    A: created at stage 1 on day 1, forward to 2, back to 1 on day 2, forward to 2, won there.
    B: created at stage 1 late on day 1, lost there early on day 2 (UTC).
    C: created at stage 1 on day 1 and deleted: nothing of it is reported.
    D: created at stage 2 on day 2, open, with a value.
    """
    workspace_id, _ = await new_workspace(database, name)
    async with unit_of_work(database, workspace_id=None) as session:

        async def run(statement: str, **parameters: Any) -> Any:
            return await session.execute(text(statement), {"w": workspace_id, **parameters})

        stage_rows = (
            await run(
                "SELECT id, pipeline_id FROM stages WHERE workspace_id = :w ORDER BY position"
            )
        ).all()
        pipeline_id = stage_rows[0].pipeline_id
        s1, s2 = stage_rows[0].id, stage_rows[1].id
        owner_id = (await run("SELECT id FROM members WHERE workspace_id = :w")).scalar_one()

        async def lead(title: str, stage: uuid.UUID, **columns: Any) -> uuid.UUID:
            values = {
                "status": "OPEN",
                "closed_at": None,
                "deleted_at": None,
                "lost_reason": None,
                "value_amount": None,
                "value_currency": None,
                **columns,
            }
            return (  # type: ignore[no-any-return]
                await run(
                    "INSERT INTO leads (workspace_id, id, title, pipeline_id, stage_id, owner_id,"
                    " status, closed_at, deleted_at, lost_reason, value_amount, value_currency)"
                    " VALUES (:w, gen_random_uuid(), :title, :pipeline, :stage, :owner, :status,"
                    " :closed_at, :deleted_at, :lost_reason, :value_amount, :value_currency)"
                    " RETURNING id",
                    title=f"{name}: {title}",
                    pipeline=pipeline_id,
                    stage=stage,
                    owner=owner_id,
                    **values,
                )
            ).scalar_one()

        a = await lead("A", s2, status="WON", closed_at=at(DAY_2, 11))
        b = await lead("B", s1, status="LOST", closed_at=at(DAY_2, 0, 30), lost_reason="budget")
        c = await lead("C", s1, deleted_at=at(DAY_2, 8))
        d = await lead("D", s2, value_amount=Decimal("1000.00"), value_currency="EUR")

        visits = [
            (a, s1, 1, at(DAY_1, 10), "CREATED", at(DAY_1, 12), "FORWARD"),
            (a, s2, 2, at(DAY_1, 12), "FORWARD", at(DAY_2, 9), "BACKWARD"),
            (a, s1, 1, at(DAY_2, 9), "BACKWARD", at(DAY_2, 10), "FORWARD"),
            (a, s2, 2, at(DAY_2, 10), "FORWARD", at(DAY_2, 11), "WON"),
            (b, s1, 1, at(DAY_1, 23, 30), "CREATED", at(DAY_2, 0, 30), "LOST"),
            (c, s1, 1, at(DAY_1, 8), "CREATED", None, None),
            (d, s2, 2, at(DAY_2, 12), "CREATED", None, None),
        ]
        for lead_id, stage, position, entered, entry, exited, exit_ in visits:
            await run(
                "INSERT INTO stage_visits (workspace_id, id, lead_id, pipeline_id, stage_id,"
                " stage_position, entered_at, entry, exited_at, exit) VALUES (:w,"
                " gen_random_uuid(), :lead, :pipeline, :stage, :position, :entered, :entry,"
                " :exited, :exit)",
                lead=lead_id,
                pipeline=pipeline_id,
                stage=stage,
                position=position,
                entered=entered,
                entry=entry,
                exited=exited,
                exit=exit_,
            )

        activities = [
            # lead, type, status, direction, stage, occurred, due, canceled, deleted
            (a, "CALL", "COMPLETED", "OUTBOUND", s1, at(DAY_1, 11), None, None, None),
            (a, "EMAIL", "COMPLETED", "OUTBOUND", s2, at(DAY_2, 10, 30), None, None, None),
            (a, "TASK", "PLANNED", None, None, None, at(DAY_2, 15), None, None),
            (a, "MEETING", "CANCELED", None, None, None, at(DAY_1, 9), at(DAY_1, 8), None),
            (a, "CALL", "COMPLETED", "OUTBOUND", s1, at(DAY_1, 11, 30), None, None, DAY_2),
            (b, "NOTE", "COMPLETED", None, s1, at(DAY_1, 23, 45), None, None, None),
            (c, "CALL", "COMPLETED", "OUTBOUND", s1, at(DAY_1, 9), None, None, None),
        ]
        for (
            lead_id,
            type_,
            status,
            direction,
            stage,
            occurred,
            due,
            canceled,
            deleted,
        ) in activities:
            await run(
                "INSERT INTO activities (workspace_id, id, lead_id, type, status, direction,"
                " pipeline_id, stage_id, occurred_at, due_at, canceled_at, deleted_at)"
                " VALUES (:w, gen_random_uuid(), :lead, :type, :status, :direction, :pipeline,"
                " :stage, :occurred, :due, :canceled, :deleted)",
                lead=lead_id,
                type=type_,
                status=status,
                direction=direction,
                pipeline=pipeline_id if stage else None,
                stage=stage,
                occurred=occurred,
                due=due,
                canceled=canceled,
                deleted=deleted,
            )

        objections = [
            (a, "PRICE", at(DAY_1, 11), "RESOLVED", at(DAY_1, 13)),
            (b, "TIMING", at(DAY_1, 23, 40), "OPEN", None),
            (c, "NEED", at(DAY_1, 9), "OPEN", None),
        ]
        for lead_id, category, raised, status, settled in objections:
            await run(
                "INSERT INTO objections (workspace_id, id, lead_id, category, customer_words,"
                " pipeline_id, stage_id, raised_at, status, settled_at) VALUES (:w,"
                " gen_random_uuid(), :lead, :category, 'Too expensive', :pipeline, :stage,"
                " :raised, :status, :settled)",
                lead=lead_id,
                category=category,
                pipeline=pipeline_id,
                stage=s1,
                raised=raised,
                status=status,
                settled=settled,
            )
    return Seeded(
        workspace_id,
        name,
        tuple(row.id for row in stage_rows),
        {"A": a, "B": b, "C": c, "D": d},
    )


async def ids_of(database: Database, workspace_id: uuid.UUID) -> set[uuid.UUID]:
    """Every id of the workspace's rows in the tables the views read."""
    tables = ("members", "teams", "pipelines", "stages", "leads", "stage_visits")
    tables += ("activities", "objections", "objection_responses")
    union = " UNION ALL ".join(
        f"SELECT id FROM {table} WHERE workspace_id = :w"  # noqa: S608 - constants only
        for table in tables
    )
    async with unit_of_work(database, workspace_id=None) as session:
        rows = await session.execute(text(union), {"w": workspace_id})
        return {row[0] for row in rows}


# --- readers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    name: str
    password: str


def unique_name() -> str:
    return f"sg_test_reader_{secrets.token_hex(4)}"


async def connect(
    database_url: str, name: str, password: str | None = None, **settings: str
) -> asyncpg.Connection:
    """A connection as `name` to the database of `database_url` (a BI tool's)."""
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.query.get("host") or url.host,
        port=url.port,
        user=name,
        password=password,
        database=url.database,
        server_settings=settings or None,
    )


@pytest.fixture
async def make_reader(
    database: Database, database_url: str
) -> AsyncIterator[Callable[[uuid.UUID], Awaitable[Credentials]]]:
    """Creates readers as the command line does; drops their roles at the end."""
    made: list[str] = []

    async def make(workspace_id: uuid.UUID) -> Credentials:
        credentials = Credentials(unique_name(), roles.generate_password())
        made.append(credentials.name)
        async with unit_of_work(database, workspace_id=None) as session:
            await roles.create_reader(
                session,
                workspace_id=workspace_id,
                name=credentials.name,
                password=credentials.password,
            )
        return credentials

    yield make
    for name in made:
        await execute_on_server(database_url, f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
async def two_workspaces(database: Database) -> tuple[Seeded, Seeded]:
    return await seed(database, "North"), await seed(database, "South")


async def view_rows(connection: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
    return {
        view: await connection.fetch(f"SELECT * FROM reporting.{view}")  # noqa: S608 - constants
        for view in sorted(VIEWS)
    }


def ids_in(records: list[asyncpg.Record]) -> set[uuid.UUID]:
    return {
        value
        for record in records
        for key, value in record.items()
        if key.endswith("_id") and isinstance(value, uuid.UUID)
    }


# --- the schema ---------------------------------------------------------------------------


async def test_every_view_is_documented_filtered_and_readable_by_the_group_only(
    database: Database,
) -> None:
    async with database.engine.connect() as connection:
        views = {
            row.relname: row
            for row in await connection.execute(
                text(
                    "SELECT c.relname, obj_description(c.oid, 'pg_class') AS comment,"
                    " c.reloptions, pg_get_viewdef(c.oid) AS definition,"
                    " has_table_privilege(:group, c.oid, 'SELECT') AS readable,"
                    " has_table_privilege(:group, c.oid,"
                    "   'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS writable,"
                    " array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid"
                    "   AND a.attnum > 0 AND NOT a.attisdropped) AS columns,"
                    " array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid"
                    "   AND a.attnum > 0 AND NOT a.attisdropped"
                    "   AND coalesce(col_description(c.oid, a.attnum), '') = '') AS undocumented"
                    " FROM pg_class c"
                    " WHERE c.relnamespace = 'reporting'::regnamespace AND c.relkind = 'v'"
                ),
                {"group": roles.READER_GROUP},
            )
        }
        group = (
            await connection.execute(
                text(
                    "SELECT rolcanlogin, rolsuper, rolbypassrls,"
                    " has_schema_privilege(:group, 'reporting', 'USAGE') AS uses,"
                    " has_schema_privilege(:group, 'reporting', 'CREATE') AS creates,"
                    " has_table_privilege(:group, 'reporting.readers', 'SELECT') AS sees_readers,"
                    " (SELECT array_agg(c.relname::text) FROM pg_class c"
                    "   WHERE c.relnamespace = current_schema()::regnamespace"
                    "   AND c.relkind IN ('r', 'v', 'm', 'p')"
                    "   AND has_table_privilege(:group, c.oid, 'SELECT')) AS public_tables"
                    " FROM pg_roles WHERE rolname = :group"
                ),
                {"group": roles.READER_GROUP},
            )
        ).one()

    # The views are the ones documented, in the database and in docs/reporting.md
    assert set(views) == VIEWS
    sections = {
        section.split("\n", 1)[0].strip(): section
        for section in re.split(r"^### ", DOCS.read_text(), flags=re.MULTILINE)[1:]
    }
    for name, view in views.items():
        # each with a comment on itself and on every column
        assert view.comment, name
        assert view.undocumented == [], name
        assert [c for c in view.columns if f"`{c}`" not in sections[f"reporting.{name}"]] == []
        # each a security barrier that filters by the reader's registered workspace
        assert "security_barrier=true" in (view.reloptions or []), name
        assert "reporting.readers" in view.definition, name
        assert "CURRENT_USER" in view.definition, name
        # readable by the readers' group, never writable
        assert (view.readable, view.writable) == (True, False), name
        # and nothing secret or free-form beyond what BI needs
        for column in view.columns:
            assert not {"hash", "secret", "token", "password", "body"} & set(column.split("_"))
        assert "contact_email" not in view.columns
    # The group cannot log in, cannot bypass row-level security, may use the schema but not
    # create in it, may not read the registry of readers nor any table of the application
    assert tuple(group[:3]) == (False, False, False)
    assert (group.uses, group.creates, group.sees_readers) == (True, False, False)
    assert group.public_tables is None


async def test_a_reader_role_is_a_read_only_login_in_the_group(
    database: Database, make_reader: Callable[[uuid.UUID], Awaitable[Credentials]]
) -> None:
    workspace_id, _ = await new_workspace(database, "Roles")
    reader = await make_reader(workspace_id)
    async with database.engine.connect() as connection:
        role = (
            await connection.execute(
                text(
                    "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
                    " rolbypassrls, rolinherit, pg_has_role(oid, :group, 'MEMBER') AS member,"
                    " pg_has_role(oid, :app, 'MEMBER') AS app, rolconfig"
                    " FROM pg_roles WHERE rolname = :name"
                ),
                {"name": reader.name, "group": roles.READER_GROUP, "app": APP_ROLE},
            )
        ).one()
        registered = (
            await connection.execute(
                text("SELECT workspace_id FROM reporting.readers WHERE role_name = :name"),
                {"name": reader.name},
            )
        ).scalar_one()
    assert tuple(role[:9]) == (True, False, False, False, False, False, True, True, False)
    assert sorted(role.rolconfig) == ["default_transaction_read_only=on", "statement_timeout=60s"]
    assert registered == workspace_id


# --- what a reader sees ---------------------------------------------------------------------


async def test_a_reader_sees_its_own_workspaces_rows_only_in_every_view(
    database: Database,
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, south = two_workspaces
    for mine, theirs in ((north, south), (south, north)):
        own_ids, other_ids = (
            await ids_of(database, mine.workspace_id),
            await ids_of(database, theirs.workspace_id),
        )
        reader = await make_reader(mine.workspace_id)
        connection = await connect(database_url, reader.name, reader.password)
        try:
            seen = await view_rows(connection)
        finally:
            await connection.close()
        assert {view: len(rows) for view, rows in seen.items()} == ROWS_PER_VIEW
        for view, rows in seen.items():
            assert ids_in(rows) <= own_ids, view
            assert not ids_in(rows) & other_ids, view
        titles = {row["title"] for row in seen["leads"]}
        assert titles == {f"{mine.name}: {key}" for key in ("A", "B", "D")}


async def test_the_views_report_the_documented_values(
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, _ = two_workspaces
    reader = await make_reader(north.workspace_id)
    connection = await connect(database_url, reader.name, reader.password)
    try:
        leads = {
            row["lead_id"]: row for row in await connection.fetch("SELECT * FROM reporting.leads")
        }
        visits = await connection.fetch(
            "SELECT stage_position, seconds_in_stage, advanced, lost, is_first_entry"
            " FROM reporting.stage_visits WHERE lead_id = $1 ORDER BY entered_at",
            north.leads["A"],
        )
        totals = await connection.fetch(
            "SELECT stage_name, visit_count, in_stage_now, seconds_in_stage, advanced"
            " FROM reporting.lead_stages WHERE lead_id = $1 ORDER BY first_entered_at",
            north.leads["A"],
        )
        touches = await connection.fetch(
            "SELECT type, status, is_touch, stage_name FROM reporting.activities"
            " WHERE lead_id = $1 ORDER BY coalesce(occurred_at, due_at)",
            north.leads["A"],
        )
        objections = await connection.fetch(
            "SELECT category, status, seconds_to_resolution FROM reporting.objections"
            " ORDER BY raised_at"
        )
    finally:
        await connection.close()

    won, lost, open_ = (leads[north.leads[key]] for key in ("A", "B", "D"))
    # A lead's outcome, cycle and forecast weight
    assert (won["status"], won["won_at"], won["stage_name"]) == (
        "WON",
        at(DAY_2, 11),
        "Preparation & research",
    )
    assert won["weighted_value"] is None
    assert (lost["status"], lost["won_at"], lost["lost_reason"]) == ("LOST", None, "budget")
    assert open_["weighted_value"] == open_["value_amount"] * open_["stage_win_probability"]
    assert open_["value_amount"] == Decimal("1000.0000")
    assert open_["owner_name"].startswith("admin-")  # the admin member's name
    # The stage history, visit by visit: A entered stage 1 twice and stage 2 twice
    assert [tuple(row.values()) for row in visits] == [
        (1, Decimal(7200), True, False, True),
        (2, Decimal(75600), False, False, True),
        (1, Decimal(3600), True, False, False),
        (2, Decimal(3600), True, False, False),
    ]
    # and summed per stage
    assert [tuple(row.values()) for row in totals] == [
        ("Prospecting", 2, False, Decimal(10800), True),
        ("Preparation & research", 2, False, Decimal(79200), True),
    ]
    # Completed outbound calls and emails are touches; a planned or canceled activity is not
    assert [tuple(row.values()) for row in touches] == [
        ("MEETING", "CANCELED", False, None),
        ("CALL", "COMPLETED", True, "Prospecting"),
        ("EMAIL", "COMPLETED", True, "Preparation & research"),
        ("TASK", "PLANNED", False, None),
    ]
    assert [tuple(row.values()) for row in objections] == [
        ("PRICE", "RESOLVED", Decimal(7200)),
        ("TIMING", "OPEN", None),
    ]


async def test_funnel_daily_matches_a_hand_count_in_utc_days(
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, _ = two_workspaces
    reader = await make_reader(north.workspace_id)
    # A reader in Tokyo (UTC+9): B's entry at 23:30 UTC on day 1 is still day 1
    connection = await connect(database_url, reader.name, reader.password, timezone="Asia/Tokyo")
    try:
        rows = await connection.fetch(
            "SELECT day, stage_position, visits_entered, visits_advanced, first_entries,"
            " first_entries_advanced, leads_lost, completed_activities"
            " FROM reporting.funnel_daily ORDER BY day, stage_position"
        )
        window = await connection.fetchrow(
            "SELECT sum(first_entries) AS entered, sum(first_entries_advanced) AS advanced"
            " FROM reporting.funnel_daily"
            " WHERE stage_position = 1 AND day >= $1 AND day < $2",
            DAY_1.date(),
            DAY_2.date() + timedelta(days=1),
        )
    finally:
        await connection.close()
    day_1, day_2 = date(2026, 1, 5), date(2026, 1, 6)
    assert [tuple(row.values()) for row in rows] == [
        # day, stage, visits, advanced, first entries, advanced, lost, completed activities
        (day_1, 1, 2, 1, 2, 1, 0, 2),  # A and B enter; A's visit goes forward; A's call, B's note
        (day_1, 2, 1, 0, 1, 1, 0, 0),  # A's visit goes back, but its later visit is won
        (day_2, 1, 1, 1, 0, 0, 1, 0),  # A comes back and goes forward; B is lost here
        (day_2, 2, 2, 1, 1, 0, 0, 1),  # A comes back and is won; D is created; A's email
    ]
    # FIRST_ENTRY conversion of stage 1 over both days: A and B entered, A advanced
    assert (window["entered"], window["advanced"]) == (2, 1)


# --- what a reader cannot do ----------------------------------------------------------------


async def test_settings_and_roles_do_not_widen_what_a_reader_sees(
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, south = two_workspaces
    reader = await make_reader(north.workspace_id)
    connection = await connect(database_url, reader.name, reader.password)
    try:
        before = await view_rows(connection)
        # The settings the tables' policies read: a reader may set them, to no effect
        await connection.execute(
            "SELECT set_config('salesgraph.workspace_id', $1, false),"
            " set_config('salesgraph.all_workspaces', 'on', false)",
            str(south.workspace_id),
        )
        assert await view_rows(connection) == before
        # Nor as the group role, which no workspace is registered for: nothing at all
        await connection.execute(f"SET ROLE {roles.READER_GROUP}")
        assert {
            view: len(rows) for view, rows in (await view_rows(connection)).items()
        } == dict.fromkeys(VIEWS, 0)
        await connection.execute("RESET ROLE")
        # Nor another reader's role: not a member of it
        other = await make_reader(south.workspace_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(f'SET ROLE "{other.name}"')
    finally:
        await connection.close()


async def test_a_function_in_a_readers_query_sees_its_workspaces_rows_only(
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, _ = two_workspaces
    reader = await make_reader(north.workspace_id)
    connection = await connect(database_url, reader.name, reader.password)
    peeked: list[str] = []
    connection.add_log_listener(lambda _, message: peeked.append(message.message))
    try:
        # A cheap function the planner would like to run first, on every row a sequential scan
        # reads: it reports every title it gets
        await connection.execute(
            "SET default_transaction_read_only = off; SET enable_indexscan = off;"
            " SET enable_bitmapscan = off; SET enable_indexonlyscan = off"
        )
        await connection.execute(
            "CREATE FUNCTION pg_temp.peek(title text) RETURNS boolean LANGUAGE plpgsql"
            " COST 0.0000001 AS $$ BEGIN RAISE NOTICE '%', title; RETURN true; END $$"
        )
        count = await connection.fetchval(
            "SELECT count(*) FROM reporting.leads WHERE pg_temp.peek(title)"
        )
        visits = await connection.fetchval(
            "SELECT count(*) FROM reporting.stage_visits WHERE pg_temp.peek(lead_title)"
        )
    finally:
        await connection.close()
    assert (count, visits) == (3, 6)
    assert peeked
    assert all(message.startswith(f"{north.name}: ") for message in peeked), peeked


async def test_a_reader_can_read_neither_tables_nor_the_registry_and_cannot_write(
    database: Database,
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, _ = two_workspaces
    reader = await make_reader(north.workspace_id)
    connection = await connect(database_url, reader.name, reader.password)
    try:
        for table in (
            "leads",
            "workspaces",
            "api_keys",
            "stage_visits",
            "lead_stage_totals",
            "domain_events",
            "idempotency_records",
            "alembic_version",
            "reporting.readers",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch(f"SELECT * FROM {table} LIMIT 1")  # noqa: S608
        # Sessions start read-only (even a temporary table is refused)
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await connection.execute("CREATE TEMPORARY TABLE mine (id int)")
        # and without that, the views still take no writes: a reader holds SELECT only
        await connection.execute("SET default_transaction_read_only = off")
        for statement in (
            "UPDATE reporting.pipelines SET pipeline_name = 'Mine'",
            "DELETE FROM reporting.members",
            "INSERT INTO reporting.readers VALUES (current_user, gen_random_uuid())",
            "UPDATE reporting.readers SET workspace_id = workspace_id",
            "CREATE TABLE reporting.mine (id int)",
            "CREATE VIEW reporting.mine AS SELECT 1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()
    # and nothing changed
    async with database.engine.connect() as owner:
        names = await owner.scalar(
            text("SELECT array_agg(name) FROM pipelines WHERE workspace_id = :w"),
            {"w": north.workspace_id},
        )
        members = await owner.scalar(
            text("SELECT count(*) FROM members WHERE workspace_id = :w"),
            {"w": north.workspace_id},
        )
    assert (names, members) == (["Sales"], 1)


async def test_dropping_a_reader_ends_its_access_at_once(
    database: Database,
    database_url: str,
    two_workspaces: tuple[Seeded, Seeded],
    make_reader: Callable[[uuid.UUID], Awaitable[Credentials]],
) -> None:
    north, _ = two_workspaces
    reader = await make_reader(north.workspace_id)
    connection = await connect(database_url, reader.name, reader.password)
    try:
        assert await connection.fetchval("SELECT count(*) FROM reporting.leads") == 3
        async with unit_of_work(database, workspace_id=None) as session:
            await roles.drop_reader(session, name=reader.name)
        # A session that was open is refused from its next statement on: the role it runs as
        # is in the readers' group no more
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("SELECT count(*) FROM reporting.leads")
    finally:
        await connection.close()
    # and the role is gone, with its registration
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await connect(database_url, reader.name, reader.password)
    async with database.engine.connect() as owner:
        registered = await owner.scalar(
            text("SELECT count(*) FROM reporting.readers WHERE role_name = :name"),
            {"name": reader.name},
        )
    assert registered == 0


# --- creating and dropping ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Upper", "1st", "with-dash", "with space", "a" * 64, "", "pg_reader", "public"]
)
async def test_a_name_that_is_not_a_plain_identifier_is_refused(
    database: Database, name: str
) -> None:
    workspace_id, _ = await new_workspace(database, "Names")
    with pytest.raises(DomainError) as error:
        async with unit_of_work(database, workspace_id=None) as session:
            await roles.create_reader(
                session, workspace_id=workspace_id, name=name, password="long enough pw"
            )
    assert (error.value.code, error.value.field) == (ErrorCode.VALIDATION, ("name",))


async def test_an_existing_role_an_unknown_workspace_and_a_short_password_are_refused(
    database: Database,
) -> None:
    workspace_id, _ = await new_workspace(database, "Refusals")

    async def refused(**arguments: Any) -> DomainError:
        with pytest.raises(DomainError) as error:
            async with unit_of_work(database, workspace_id=None) as session:
                await roles.create_reader(session, **arguments)
        return error.value

    taken = await refused(workspace_id=workspace_id, name=APP_ROLE, password="long enough pw")
    assert (taken.code, taken.field) == (ErrorCode.DUPLICATE, ("name",))
    unknown = await refused(
        workspace_id=uuid.uuid4(), name=unique_name(), password="long enough pw"
    )
    assert (unknown.code, unknown.field) == (ErrorCode.NOT_FOUND, ("workspaceId",))
    short = await refused(workspace_id=workspace_id, name=unique_name(), password="short")
    assert (short.code, short.field) == (ErrorCode.VALIDATION, ("password",))
    # A registration whose role was dropped by hand must be dropped first
    stale = unique_name()
    async with unit_of_work(database, workspace_id=None) as session:
        await session.execute(
            text("INSERT INTO reporting.readers (role_name, workspace_id) VALUES (:name, :w)"),
            {"name": stale, "w": workspace_id},
        )
    leftover = await refused(workspace_id=workspace_id, name=stale, password="long enough pw")
    assert (leftover.code, leftover.message) == (
        ErrorCode.DUPLICATE,
        f"{stale} is registered already, without its role: drop it first",
    )
    async with unit_of_work(database, workspace_id=None) as session:
        await roles.drop_reader(session, name=stale)
        listed = [reader.name for reader in await roles.list_readers(session)]
    assert stale not in listed
    # and salesgraph_app is untouched
    async with database.engine.connect() as connection:
        app = await connection.scalar(
            text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :name"), {"name": APP_ROLE}
        )
    assert app is False


async def test_only_a_registered_reader_role_is_dropped(database: Database) -> None:
    workspace_id, _ = await new_workspace(database, "Drops")

    async def drop(name: str) -> DomainError:
        with pytest.raises(DomainError) as error:
            async with unit_of_work(database, workspace_id=None) as session:
                await roles.drop_reader(session, name=name)
        return error.value

    # A role that was never registered
    assert (await drop(APP_ROLE)).code == ErrorCode.NOT_FOUND
    # A registration made by hand for a role that is not a reader is refused, and kept
    async with unit_of_work(database, workspace_id=None) as session:
        await session.execute(
            text("INSERT INTO reporting.readers (role_name, workspace_id) VALUES (:name, :w)"),
            {"name": APP_ROLE, "w": workspace_id},
        )
    try:
        assert (await drop(APP_ROLE)).code == ErrorCode.INVALID_STATE
        async with database.engine.connect() as connection:
            kept = await connection.scalar(
                text("SELECT count(*) FROM reporting.readers WHERE role_name = :name"),
                {"name": APP_ROLE},
            )
            app = await connection.scalar(
                text("SELECT count(*) FROM pg_roles WHERE rolname = :name"), {"name": APP_ROLE}
            )
        assert (kept, app) == (1, 1)
    finally:
        async with unit_of_work(database, workspace_id=None) as session:
            await session.execute(
                text("DELETE FROM reporting.readers WHERE role_name = :name"), {"name": APP_ROLE}
            )


async def test_the_password_verifier_is_the_one_postgresql_makes(database: Database) -> None:
    async with database.engine.connect() as connection:
        if not await connection.scalar(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ):
            pytest.skip("reading pg_authid needs a superuser")
        name = unique_name()
        await connection.execute(text("SET password_encryption = 'scram-sha-256'"))
        await connection.exec_driver_sql(f"CREATE ROLE \"{name}\" PASSWORD 'it''s a secret'")
        try:
            stored = await connection.scalar(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = :name"), {"name": name}
            )
        finally:
            await connection.rollback()
    iterations, salt = stored.split("$")[1].split(":")
    verifier = roles.scram_verifier(
        "it's a secret", salt=base64.b64decode(salt), iterations=int(iterations)
    )
    assert verifier == stored


# --- an owner that is no superuser ----------------------------------------------------------


async def test_the_views_work_and_hold_when_the_owner_is_bound_by_row_level_security(
    database_url: str, own_owner: str
) -> None:
    maintenance = create_database(own_owner, all_workspaces=True)
    name = unique_name()
    try:
        north, south = await seed(maintenance, "North"), await seed(maintenance, "South")
        # An owner without CREATEROLE is told what it lacks
        with pytest.raises(DomainError) as error:
            async with unit_of_work(maintenance, workspace_id=None) as session:
                await roles.create_reader(
                    session, workspace_id=north.workspace_id, name=name, password="long enough pw"
                )
        assert error.value.code == ErrorCode.FORBIDDEN
        assert "CREATEROLE" in error.value.message
        # so a database administrator makes the role, and the owner registers it
        await execute_on_server(
            database_url, f'CREATE ROLE "{name}" LOGIN IN ROLE {roles.READER_GROUP}'
        )
        async with unit_of_work(maintenance, workspace_id=None) as session:
            await session.execute(
                text("INSERT INTO reporting.readers (role_name, workspace_id) VALUES (:name, :w)"),
                {"name": name, "w": north.workspace_id},
            )
        own_ids = await ids_of(maintenance, north.workspace_id)
        connection = await connect(own_owner, name)
        try:
            # The owner's reads through the views see the reader's workspace (reporting_read)
            seen = await view_rows(connection)
            assert {view: len(rows) for view, rows in seen.items()} == ROWS_PER_VIEW
            assert all(ids_in(rows) <= own_ids for rows in seen.values())
            # and the policies the reader can steer do not widen it: the views' filter holds
            await connection.execute(
                "SELECT set_config('salesgraph.workspace_id', $1, false),"
                " set_config('salesgraph.all_workspaces', 'on', false)",
                str(south.workspace_id),
            )
            assert await view_rows(connection) == seen
        finally:
            await connection.close()
    finally:
        await maintenance.dispose()
        await execute_on_server(database_url, f'DROP ROLE IF EXISTS "{name}"')


# --- the command line -----------------------------------------------------------------------


def salesgraph(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SALESGRAPH_")
    }
    environment["SALESGRAPH_DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 - our own console script
        [str(BIN), *args], capture_output=True, text=True, env=environment, check=False, timeout=120
    )


async def test_the_command_line_creates_lists_and_drops_reader_roles(
    database: Database, database_url: str
) -> None:
    north = await seed(database, "North")
    name = unique_name()
    try:
        # create: the password is generated, printed once, and in the connection URL
        created = await anyio.to_thread.run_sync(
            lambda: salesgraph(
                "reporting-role",
                "create",
                "--workspace",
                str(north.workspace_id),
                "--name",
                name,
                "--json",
                database_url=database_url,
            )
        )
        assert created.returncode == 0, created.stderr
        output = json.loads(created.stdout)
        assert set(output) == {"role", "workspace_id", "url", "password"}
        assert (output["role"], output["workspace_id"]) == (name, str(north.workspace_id))
        url = make_url(output["url"])
        assert (url.username, url.password, url.database) == (
            name,
            output["password"],
            make_url(database_url).database,
        )
        connection = await connect(database_url, name, output["password"])
        try:
            assert await connection.fetchval("SELECT count(*) FROM reporting.leads") == 3
        finally:
            await connection.close()

        # the same name again, and an unknown workspace: one line each, nothing made
        again = await anyio.to_thread.run_sync(
            lambda: salesgraph(
                "reporting-role",
                "create",
                "--workspace",
                str(north.workspace_id),
                "--name",
                name,
                "--password",
                "a chosen password",
                database_url=database_url,
            )
        )
        assert again.returncode == 2
        assert again.stderr.strip() == f"salesgraph: name: a role named {name} exists already"

        # list
        listed = await anyio.to_thread.run_sync(
            lambda: salesgraph("reporting-role", "list", "--json", database_url=database_url)
        )
        assert listed.returncode == 0, listed.stderr
        mine = [reader for reader in json.loads(listed.stdout) if reader["role"] == name]
        assert [(r["workspace_id"], r["workspace_name"], r["role_exists"]) for r in mine] == [
            (str(north.workspace_id), "North", True)
        ]

        # drop, then drop again
        dropped = await anyio.to_thread.run_sync(
            lambda: salesgraph("reporting-role", "drop", "--name", name, database_url=database_url)
        )
        assert dropped.returncode == 0, dropped.stderr
        assert dropped.stdout.strip() == f"dropped {name}"
        twice = await anyio.to_thread.run_sync(
            lambda: salesgraph("reporting-role", "drop", "--name", name, database_url=database_url)
        )
        assert twice.returncode == 2
        assert twice.stderr.strip() == f"salesgraph: name: reporting role {name} does not exist"
    finally:
        await execute_on_server(database_url, f'DROP ROLE IF EXISTS "{name}"')


async def test_a_chosen_password_is_not_printed(database: Database, database_url: str) -> None:
    workspace_id, _ = await new_workspace(database, "Chosen")
    name = unique_name()
    try:
        created = await anyio.to_thread.run_sync(
            lambda: salesgraph(
                "reporting-role",
                "create",
                "--workspace",
                str(workspace_id),
                "--name",
                name,
                "--password",
                "a chosen password",
                database_url=database_url,
            )
        )
        assert created.returncode == 0, created.stderr
        assert "a chosen password" not in created.stdout
        url = make_url(created.stdout.split("connect: ", 1)[1].split(" ", 1)[0])
        assert (url.username, url.password) == (name, None)
        connection = await connect(database_url, name, "a chosen password")
        await connection.close()
    finally:
        await execute_on_server(database_url, f'DROP ROLE IF EXISTS "{name}"')
