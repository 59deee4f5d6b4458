"""Tenancy in the database: row-level security is the second wall behind the ORM's filter.

The application's connections run as salesgraph_app, which owns no table and cannot bypass
row-level security; each transaction of a workspace session tells the database its workspace.
SQL that forgets the workspace filter, run through the application's own connections, then
returns the session's workspace's rows only, and nothing at all without a workspace.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from salesgraph.app import create_app
from salesgraph.db import registry
from salesgraph.db.engine import APP_ROLE, Database, create_database
from salesgraph.db.roles import server_role_problem
from salesgraph.db.tenancy import enter_workspace
from salesgraph.db.unit_of_work import read_session, unit_of_work
from salesgraph.settings import Settings
from salesgraph.workspaces import service as workspace_service
from salesgraph.workspaces.models import Workspace
from tests.conftest import Api

pytestmark = pytest.mark.anyio

# Tables read without a workspace filter below; each gets rows in both workspaces.
UNFILTERED = ("workspaces", "members", "api_keys", "leads", "activities", "domain_events")
# Tables the reporting views read: a third policy lets the owner's reads through the views see
# the querying reader's workspace (migration 0006, tests/test_reporting.py).
REPORTED = {
    "members",
    "teams",
    "pipelines",
    "stages",
    "leads",
    "stage_visits",
    "lead_stage_totals",
    "activities",
    "objections",
    "objection_responses",
}


async def populate(api: Api) -> None:
    """A lead with a logged call, in the key's workspace."""
    created = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
            lead { id } errors { code } } }""",
        {"input": {"title": "Deal", "companyName": "Acme"}},
    )
    lead_id = created["createLead"]["lead"]["id"]
    logged = await api(
        """mutation($input: LogActivityInput!) { logActivity(input: $input) {
            activity { id } errors { code } } }""",
        {"input": {"leadId": lead_id, "type": "CALL"}},
    )
    assert logged["logActivity"]["errors"] == []


@pytest.fixture
async def two_workspaces(api: Api, other_api: Api) -> tuple[uuid.UUID, uuid.UUID]:
    await populate(api)
    await populate(other_api)
    assert api.workspace_id is not None
    assert other_api.workspace_id is not None
    return api.workspace_id, other_api.workspace_id


def owner_column(table: str) -> str:
    return "id" if table == "workspaces" else "workspace_id"


async def workspaces_seen(session: Any, table: str) -> set[uuid.UUID]:
    """The workspaces of every row of `table` that a query without any filter returns."""
    rows = await session.execute(text(f"SELECT {owner_column(table)} FROM {table}"))  # noqa: S608
    return {row[0] for row in rows}


async def test_a_query_without_a_workspace_filter_sees_only_the_sessions_workspace(
    two_workspaces: tuple[uuid.UUID, uuid.UUID], app_database: Database, database: Database
) -> None:
    a, b = two_workspaces
    # Given rows of both workspaces in every table (as the owner sees them)
    async with read_session(database, workspace_id=None) as session:
        for table in UNFILTERED:
            assert await workspaces_seen(session, table) >= {a, b}, table

    # When the application's connections run SQL that forgets the workspace, in A's session
    async with read_session(app_database, workspace_id=a) as session:
        seen = {table: await workspaces_seen(session, table) for table in UNFILTERED}
        # (a Core statement on the table, which the ORM's filter does not see, too)
        leads = (await session.execute(select(registry.lead_models.Lead.__table__))).all()
    # Then they get A's rows only
    assert seen == {table: {a} for table in UNFILTERED}
    assert {row.workspace_id for row in leads} == {a}

    # and the same in B's, in a writing transaction
    async with unit_of_work(app_database, workspace_id=b) as session:
        seen = {table: await workspaces_seen(session, table) for table in UNFILTERED}
    assert seen == {table: {b} for table in UNFILTERED}


async def test_without_a_workspace_the_application_sees_no_tenant_row(
    two_workspaces: tuple[uuid.UUID, uuid.UUID], app_database: Database
) -> None:
    # An unscoped session (as authentication opens) and a bare connection see nothing
    async with read_session(app_database, workspace_id=None) as session:
        seen = {table: await workspaces_seen(session, table) for table in UNFILTERED}
        ids = (await session.execute(select(Workspace.id))).all()
    assert seen == {table: set() for table in UNFILTERED}
    assert ids == []
    async with app_database.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM leads")) == 0
        # and an empty setting (what an ended transaction leaves) is no workspace either
        await connection.execute(text("SELECT set_config('salesgraph.workspace_id', '', false)"))
        assert await connection.scalar(text("SELECT count(*) FROM api_keys")) == 0
        await connection.rollback()


async def test_rows_of_another_workspace_cannot_be_written(
    two_workspaces: tuple[uuid.UUID, uuid.UUID], app_database: Database, database: Database
) -> None:
    a, b = two_workspaces

    async def refused(statement: str, **parameters: Any) -> str:
        with pytest.raises(DBAPIError) as error:
            async with unit_of_work(app_database, workspace_id=a) as session:
                await session.execute(text(statement), parameters)
        return str(error.value.orig)

    # An insert that names another workspace is refused by the policy's check
    message = await refused(
        "INSERT INTO teams (workspace_id, id, name) VALUES (:b, gen_random_uuid(), 'Spies')",
        b=b,
    )
    assert "violates row-level security policy" in message
    # and so is moving one of A's rows into B
    message = await refused("UPDATE leads SET workspace_id = :b", b=b)
    assert "violates row-level security policy" in message

    # while updates and deletes without a filter touch A's rows only
    async with database.engine.connect() as connection:
        before = await connection.scalar(
            text("SELECT count(*) FROM leads WHERE workspace_id = :b AND title = 'Deal'"), {"b": b}
        )
    async with unit_of_work(app_database, workspace_id=a) as session:
        changed = await session.execute(text("UPDATE leads SET title = 'Mine'"))
        assert changed.rowcount == 1
        deleted = await session.execute(text("DELETE FROM team_memberships"))
        assert deleted.rowcount == 0
    async with database.engine.connect() as connection:
        titles = await connection.execute(
            text("SELECT workspace_id, title FROM leads WHERE workspace_id IN (:a, :b)"),
            {"a": a, "b": b},
        )
        assert sorted((row[0] == a, row[1]) for row in titles) == [(False, "Deal"), (True, "Mine")]
    assert before == 1


async def test_the_application_role_owns_nothing_and_cannot_bypass_policies(
    app_database: Database, database: Database, settings: Settings, database_url: str
) -> None:
    # The application's connections run as salesgraph_app
    async with app_database.engine.connect() as connection:
        assert await connection.scalar(text("SELECT current_user")) == APP_ROLE
    async with database.engine.connect() as connection:
        role = (
            await connection.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb"
                    " FROM pg_roles WHERE rolname = :role"
                ),
                {"role": APP_ROLE},
            )
        ).one()
        # which is no superuser, cannot bypass row-level security, and cannot log in itself
        assert tuple(role) == (False, False, False, False, False)
        # owns no table, nor holds the privileges of any table's owner
        owned = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p')"
                " AND relnamespace = current_schema()::regnamespace"
                " AND pg_has_role(:role, relowner, 'USAGE')"
            ),
            {"role": APP_ROLE},
        )
        assert owned == 0
        # may read and write the tables (alembic_version only read), and those made later
        privileges = await connection.execute(
            text(
                "SELECT has_table_privilege(:role, 'leads', 'SELECT, INSERT, UPDATE, DELETE'),"
                " has_table_privilege(:role, 'leads', 'TRUNCATE, REFERENCES, TRIGGER'),"
                " has_table_privilege(:role, 'alembic_version', 'SELECT'),"
                " has_table_privilege(:role, 'alembic_version', 'INSERT, UPDATE, DELETE'),"
                " EXISTS (SELECT FROM pg_default_acl, aclexplode(defaclacl) AS acl"
                "   WHERE defaclobjtype = 'r' AND acl.grantee = to_regrole(:role))"
            ),
            {"role": APP_ROLE},
        )
        assert tuple(privileges.one()) == (True, False, True, False, True)
        # and every tenant table has row-level security, forced, with the workspace policy
        tables = {
            row.relname: row
            for row in await connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity, array("
                    "  SELECT polname::text FROM pg_policy WHERE polrelid = pg_class.oid"
                    "  ORDER BY polname) AS policies"
                    " FROM pg_class WHERE relkind = 'r'"
                    " AND relnamespace = current_schema()::regnamespace"
                )
            )
        }
    tenant_tables = [
        table.name
        for table in registry.Base.metadata.sorted_tables
        if ("workspace_id" in table.c or table.name == "workspaces")
        and table.info.get("tenant", True)
    ]
    assert len(tenant_tables) >= 16
    for name in tenant_tables:
        row = tables[name]
        assert (row.relrowsecurity, row.relforcerowsecurity) == (True, True), name
        reporting = ["reporting_read"] if name in REPORTED else []
        assert row.policies == ["owner_maintenance", *reporting, "workspace_isolation"], name
    # The server's start-up check agrees, and refuses a connection as the owner
    assert await server_role_problem(settings, database_url) is None
    as_owner = Settings(database_url=database_url, app_database_url=database_url)
    problem = await server_role_problem(as_owner, database_url)
    assert problem is not None
    assert "SALESGRAPH_APP_DATABASE_URL" in problem


async def test_the_workspace_does_not_outlive_its_transaction(
    two_workspaces: tuple[uuid.UUID, uuid.UUID], database_url: str
) -> None:
    a, _ = two_workspaces
    # One pooled connection, so that every session below gets the same one
    single = create_database(database_url, role=APP_ROLE, pool_size=1, max_overflow=0)
    backend = text("SELECT pg_backend_pid()")
    setting = text("SELECT current_setting('salesgraph.workspace_id', true)")
    count = text("SELECT count(*) FROM leads")
    try:
        async with read_session(single, workspace_id=a) as session:
            pid = await session.scalar(backend)
            assert await session.scalar(count) == 1
        async with unit_of_work(single, workspace_id=a) as session:
            assert await session.scalar(count) == 1

        async def fail_in_a_transaction() -> None:
            async with unit_of_work(single, workspace_id=a) as session:
                assert await session.scalar(count) == 1
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await fail_in_a_transaction()
        # After a rolled-back read, a committed write and a failed write, the connection
        # back in the pool has no workspace
        async with read_session(single, workspace_id=None) as session:
            assert await session.scalar(backend) == pid
            assert await session.scalar(setting) in ("", None)
            assert await session.scalar(count) == 0
        async with single.engine.connect() as connection:
            assert await connection.scalar(backend) == pid
            assert await connection.scalar(count) == 0
    finally:
        await single.dispose()


async def test_an_unscoped_session_enters_a_workspace_mid_transaction(
    two_workspaces: tuple[uuid.UUID, uuid.UUID], app_database: Database
) -> None:
    a, b = two_workspaces
    async with unit_of_work(app_database, workspace_id=None) as session:
        assert await workspaces_seen(session, "leads") == set()
        await enter_workspace(session, a)
        assert await workspaces_seen(session, "leads") == {a}
        # (the ORM's filter follows too)
        assert [row.id for row in (await session.execute(select(Workspace))).scalars()] == [a]
        with pytest.raises(RuntimeError):
            await enter_workspace(session, b)


# --- an owner that is not a superuser (an external PostgreSQL) ---------------------------------


async def test_an_owner_that_is_no_superuser_is_bound_too_unless_it_asks(own_owner: str) -> None:
    maintenance = create_database(own_owner, all_workspaces=True)
    plain = create_database(own_owner)
    app = create_app(Settings(database_url=own_owner), own_owner)
    try:
        # The command line's way (all workspaces) creates workspaces and finds keys anywhere
        tokens = []
        for name in ("North", "South"):
            async with unit_of_work(maintenance, workspace_id=None) as session:
                _, _, key = await workspace_service.create_workspace(
                    session, name=name, admin_email=f"admin@{name.lower()}.example"
                )
                tokens.append((key.key.id, key.token))
        async with unit_of_work(maintenance, workspace_id=None) as session:
            assert len((await session.execute(select(Workspace))).all()) == 2
            await workspace_service.revoke_api_key(session, key_id=tokens[1][0])

        # while the owner's connections that do not ask see nothing: FORCE binds the owner too
        async with plain.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM workspaces")) == 0

        # and the server, switching the owner's login to salesgraph_app, serves the first key
        assert await server_role_problem(Settings(database_url=own_owner), own_owner) is None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for (_, token), status in zip(tokens, (200, 401), strict=True):
                response = await client.post(
                    "/graphql",
                    json={"query": "{ viewer { workspace { name } } }"},
                    headers={"authorization": f"Bearer {token}"},
                )
                assert response.status_code == status, response.text
            assert response.status_code == 401
        async with app.state.database.engine.connect() as connection:
            assert await connection.scalar(text("SELECT current_user")) == APP_ROLE
    finally:
        await app.state.database.dispose()
        await maintenance.dispose()
        await plain.dispose()


async def test_a_workspace_is_created_through_the_applications_connections(
    app_database: Database, client: httpx.AsyncClient
) -> None:
    # Creating a workspace enters it first, so the application's role may write its rows
    async with unit_of_work(app_database, workspace_id=None) as session:
        workspace, _, key = await workspace_service.create_workspace(
            session, name="Created", admin_email="admin@created.example"
        )
        seen = await workspaces_seen(session, "workspaces")
    assert seen == {workspace.id}
    api = Api(client, key.token, workspace.id)
    data = await api("{ viewer { workspace { id name } } pipelines { name } }")
    assert data["viewer"]["workspace"] == {"id": str(workspace.id), "name": "Created"}
    assert [pipeline["name"] for pipeline in data["pipelines"]] == ["Sales"]
