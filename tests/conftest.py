"""Test fixtures: a real PostgreSQL, migrated by Alembic once per run, and the real HTTP stack.

The server is the one named by SALESGRAPH_TEST_DATABASE_URL (a postgresql:// URL whose user may
create databases), otherwise the embedded one in .salesgraph-test/. Each run creates its own
database on it and drops it at the end. Tests isolate themselves by creating their own
workspaces, which is also how tenancy is exercised. Async test modules carry
`pytestmark = pytest.mark.anyio`.

As in production, the application under test runs its requests as the role salesgraph_app,
bound by row-level security, while the tests' own setup and inspection (`database`: seeding
workspaces, raw SQL on the tables) connect as the owner that migrated the database, as the
command line does.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from salesgraph.app import create_app
from salesgraph.db import migrations
from salesgraph.db.engine import APP_ROLE, Database, async_database_url
from salesgraph.db.scratch import execute_on_server, scratch_database
from salesgraph.db.tenancy import ALL_WORKSPACES_KEY, SET_WORKSPACE_SQL
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.settings import Settings
from salesgraph.workspaces import service as workspace_service

ROOT = Path(__file__).resolve().parents[1]
# How the statement that sets a transaction's workspace starts (its parameter as sent differs).
WORKSPACE_SETTING = SET_WORKSPACE_SQL.split(":", 1)[0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run that collected no tests is a failure, not a success (pytest's exit code 5).
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def server_url() -> str:
    """The PostgreSQL server the tests create their databases on."""
    configured = os.environ.get("SALESGRAPH_TEST_DATABASE_URL")
    if configured:
        return configured
    from salesgraph.db.embedded import start_embedded_server

    return start_embedded_server(ROOT / ".salesgraph-test")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database on the test server, migrated to head by Alembic."""
    with scratch_database(server_url(), "salesgraph_test") as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[Any]:
    application = create_app(settings, database_url)
    yield application
    await application.state.database.dispose()


@pytest.fixture
def app_database(app: Any) -> Database:
    """The application's own connections: as salesgraph_app, bound by row-level security."""
    return app.state.database  # type: ignore[no-any-return]


@pytest.fixture
def database(database_url: str) -> Database:
    """The owner's connections, for the tests' setup and inspection (as the command line).

    Unpooled, so that nothing is left to dispose of (and the fixture needs no event loop).
    """
    return owner_database(database_url)


@pytest.fixture
async def own_owner(database_url: str) -> AsyncIterator[str]:
    """A database owned and migrated by a role that is no superuser (as on an external
    PostgreSQL); the URL of that owner.

    salesgraph_app exists already (the test database's migration made it), so, as a database
    administrator would, the owner is made a member of it: the server switches to it.
    """
    suffix = secrets.token_hex(4)
    role, name = f"salesgraph_owner_{suffix}", f"salesgraph_owned_{suffix}"
    await execute_on_server(database_url, f'CREATE ROLE "{role}" LOGIN')
    await execute_on_server(database_url, f'GRANT {APP_ROLE} TO "{role}"')
    await execute_on_server(database_url, f'CREATE DATABASE "{name}" OWNER "{role}"')
    url = make_url(database_url).set(username=role, database=name)
    owner_url = url.render_as_string(hide_password=False)
    try:
        await anyio.to_thread.run_sync(migrations.upgrade, owner_url)
        yield owner_url
    finally:
        await execute_on_server(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await execute_on_server(database_url, f'DROP ROLE IF EXISTS "{role}"')


def owner_database(database_url: str) -> Database:
    """Unpooled connections as the owner, reaching every workspace (see `database`)."""
    engine = create_async_engine(
        async_database_url(database_url),
        poolclass=NullPool,
        connect_args={"server_settings": {"timezone": "UTC"}},
    )
    sessionmaker = async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, info={ALL_WORKSPACES_KEY: True}
    )
    return Database(engine=engine, sessionmaker=sessionmaker)


class StatementCounter:
    """Counts SQL statements sent by an engine while `counting()` is active.

    The workspace setting each transaction starts with (salesgraph.db.tenancy) is not counted:
    it is one per transaction, never per row, and the counts are about queries.
    """

    def __init__(self, database: Database):
        self.statements: list[str] = []
        self._active = False
        event.listen(database.engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._active and not statement.startswith(WORKSPACE_SETTING):
            self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        self._active = True
        try:
            yield self.statements
        finally:
            self._active = False


@pytest.fixture
def statements(app_database: Database) -> StatementCounter:
    """Counts what the application sends."""
    return StatementCounter(app_database)


@dataclass
class Api:
    """A client of the GraphQL endpoint, speaking as one API key."""

    client: httpx.AsyncClient
    token: str | None
    workspace_id: uuid.UUID | None = None

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an operation that must succeed without GraphQL errors; returns its data."""
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def as_key(self, token: str | None) -> Api:
        return Api(self.client, token, self.workspace_id)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def new_workspace(database: Database, name: str = "Acme") -> tuple[uuid.UUID, str]:
    async with unit_of_work(database, workspace_id=None) as session:
        workspace, _, key = await workspace_service.create_workspace(
            session, name=name, admin_email=f"admin-{secrets.token_hex(3)}@example.com"
        )
    return workspace.id, key.token


@pytest.fixture
async def api(client: httpx.AsyncClient, database: Database) -> Api:
    """An admin of a fresh workspace."""
    workspace_id, token = await new_workspace(database, "Acme")
    return Api(client, token, workspace_id)


@pytest.fixture
async def other_api(client: httpx.AsyncClient, database: Database) -> Api:
    """An admin of a second, unrelated workspace."""
    workspace_id, token = await new_workspace(database, "Other Co")
    return Api(client, token, workspace_id)


# Each derived metric table against a recount from its sources, written independently of the
# triggers that keep it (migration 0007): the rows where they differ.
_DONE = "a.status = 'COMPLETED' AND a.deleted_at IS NULL AND a.pipeline_id IS NOT NULL"
_DAY = "(a.occurred_at AT TIME ZONE 'UTC')::date"
_TOUCH = (
    "a.direction = 'OUTBOUND' AND a.type IN ('CALL', 'EMAIL', 'MEETING', 'DEMO', 'MESSAGE', 'CHAT')"
)
ROLLUP_RECOUNTS = {
    "activity_daily": (
        "SELECT workspace_id, pipeline_id, day, stage_id, type, outcome, activities, seconds"
        " FROM activity_daily WHERE activities <> 0 OR seconds <> 0",
        f"SELECT a.workspace_id, a.pipeline_id, {_DAY}, a.stage_id, a.type, a.outcome, count(*),"  # noqa: S608
        f" coalesce(sum(a.duration_seconds), 0) FROM activities a WHERE {_DONE}"
        " GROUP BY 1, 2, 3, 4, 5, 6",
    ),
    "activity_daily_members": (
        "SELECT workspace_id, pipeline_id, day, member_id, activities"
        " FROM activity_daily_members WHERE activities <> 0",
        f"SELECT a.workspace_id, a.pipeline_id, {_DAY}, a.completed_by_member_id, count(*)"  # noqa: S608
        f" FROM activities a WHERE {_DONE} AND a.completed_by_member_id IS NOT NULL"
        " GROUP BY 1, 2, 3, 4",
    ),
    "closed_leads": (
        "SELECT workspace_id, lead_id, pipeline_id, status, closed_at, cycle_seconds, owner_id,"
        " value_amount, value_currency, touches FROM closed_leads",
        # One pass over each lead's done activities, with the rejection found first.
        "WITH done AS (SELECT a.* FROM activities a JOIN leads l"  # noqa: S608
        "   ON l.workspace_id = a.workspace_id AND l.id = a.lead_id"
        "   WHERE a.status = 'COMPLETED' AND a.deleted_at IS NULL),"
        " rejected AS (SELECT l.workspace_id, l.id, min(a.occurred_at) AS at FROM leads l"
        "   JOIN done a ON a.workspace_id = l.workspace_id AND a.lead_id = l.id"
        "   WHERE a.outcome = 'NEGATIVE' AND a.at <= l.closed_at GROUP BY 1, 2)"
        " SELECT l.workspace_id, l.id, l.pipeline_id, l.status, l.closed_at,"
        " extract(epoch FROM l.closed_at - l.created_at)::float8, l.owner_id, l.value_amount,"
        " l.value_currency, CASE WHEN l.status = 'WON' THEN count(a.id) FILTER ("
        "   WHERE a.at < l.closed_at AND a.occurred_at < l.closed_at)"
        " WHEN r.at IS NOT NULL THEN count(a.id) FILTER (WHERE a.at > r.at"
        "   AND a.at <= l.closed_at AND a.occurred_at > r.at AND a.occurred_at <= l.closed_at)"
        " END"
        " FROM leads l LEFT JOIN rejected r ON r.workspace_id = l.workspace_id AND r.id = l.id"
        f" LEFT JOIN done a ON a.workspace_id = l.workspace_id AND a.lead_id = l.id AND {_TOUCH}"
        " WHERE l.status IN ('WON', 'LOST') AND l.deleted_at IS NULL"
        " GROUP BY l.workspace_id, l.id, r.at",
    ),
}


async def rollup_drift(database: Database) -> dict[str, int]:
    """Per derived metric table, how many rows differ from a recount of its sources."""
    drift = {}
    async with unit_of_work(database, workspace_id=None) as session:
        for table, (kept, recount) in ROLLUP_RECOUNTS.items():
            differing = text(
                f"SELECT count(*) FROM ((SELECT * FROM ({kept}) k"  # noqa: S608 - constants
                f" EXCEPT ALL SELECT * FROM ({recount}) r)"
                f" UNION ALL (SELECT * FROM ({recount}) r EXCEPT ALL SELECT * FROM ({kept}) k)) d"
            )
            drift[table] = int(await session.scalar(differing) or 0)
    return drift
