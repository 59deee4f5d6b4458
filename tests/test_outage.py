"""The database goes away and comes back: requests fail fast, readiness turns false, and the
service recovers without a restart.

These tests stop and start a PostgreSQL of their own (initdb and pg_ctl from the machine's
PostgreSQL or the pgserver wheel; as root, the server runs as the `postgres` or `pgserver`
user), so the shared test server is never disturbed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from salesgraph.app import create_app
from salesgraph.db import migrations
from salesgraph.db.embedded import _find_binary
from salesgraph.db.engine import create_database
from salesgraph.settings import Settings
from salesgraph.workspaces import api_keys
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

COUNT_LEADS = "query CountLeads { leads { totalCount } }"
FAST = 1.5  # seconds: "fail fast" with a connect timeout of 1 s


def _binaries() -> tuple[str, str]:
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    try:
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-not-found]
    except ImportError:
        pytest.fail("no PostgreSQL binaries: install PostgreSQL or the pgserver wheel")
    return str(POSTGRES_BIN_PATH / "initdb"), str(POSTGRES_BIN_PATH / "pg_ctl")


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: then run it as one of these users."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    pytest.fail("running as root, and there is no postgres or pgserver user to run PostgreSQL")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateServer:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1:port."""

    pg_ctl: str
    data: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tools, our arguments
            [self.pg_ctl, "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            user=self.user,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run("-w", "-l", str(self.data / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self._run("-w", "-m", "fast", "stop")


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    initdb, pg_ctl = _binaries()
    user = _system_user()
    folder = Path(tempfile.mkdtemp(prefix="sg-outage-"))
    data = folder / "data"
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        subprocess.run(  # noqa: S603
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"],
            check=True,
            capture_output=True,
            user=user,
            timeout=120,
        )
        private = PrivateServer(pg_ctl, data, _free_port(), user)
        private.start()
        try:
            migrations.upgrade(private.url)
            yield private
        finally:
            if (data / "postmaster.pid").exists():
                private.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def service(server: PrivateServer) -> AsyncIterator[tuple[Any, Api]]:
    """The app on the private server, and an admin of a fresh workspace."""
    settings = Settings(database_url=server.url, database_connect_timeout=1)
    app = create_app(settings, server.url)
    owner = create_database(server.url, pool_size=1, max_overflow=0, all_workspaces=True)
    try:
        workspace_id, token = await new_workspace(owner)
    finally:
        await owner.dispose()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield app, Api(client, token, workspace_id)
    await app.state.database.dispose()


async def timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def test_requests_fail_fast_while_the_database_is_down_and_succeed_when_it_returns(
    server: PrivateServer, service: tuple[Any, Api]
) -> None:
    app, api = service
    # Given a service in use: its pool holds open connections
    for _ in range(3):
        assert (await api.post(COUNT_LEADS)).status_code == 200
    assert (await api.client.get("/readyz")).status_code == 200

    # When the database stops
    await anyio.to_thread.run_sync(server.stop)

    # Then requests fail at once, with an error that names the request
    for _ in range(3):
        response, elapsed = await timed(api.post(COUNT_LEADS))
        assert elapsed < FAST
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        request_id = response.headers["x-request-id"]
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert request_id in error["message"]
    # and the service is not ready, while it stays alive
    ready, elapsed = await timed(api.client.get("/readyz"))
    assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")
    assert elapsed < FAST
    assert (await api.client.get("/healthz")).status_code == 200
    # and the failures are counted
    registry = app.state.observability.metrics.registry
    labels = {"operation": "none", "outcome": "error"}
    assert registry.get_sample_value("salesgraph_requests_total", labels) == 3

    # When the database is back
    await anyio.to_thread.run_sync(server.start)

    # Then the next request succeeds, without a restart of the service
    assert await api(COUNT_LEADS) == {"leads": {"totalCount": 0}}
    assert (await api.client.get("/readyz")).status_code == 200


async def test_a_database_restart_between_requests_costs_no_request(
    server: PrivateServer, service: tuple[Any, Api]
) -> None:
    app, api = service
    # Given pooled connections from earlier requests
    for _ in range(3):
        assert (await api.post(COUNT_LEADS)).status_code == 200
    pool = app.state.database.engine.sync_engine.pool
    assert pool.checkedin() >= 1

    # When the database restarts while no request runs (its connections are closed)
    await anyio.to_thread.run_sync(server.stop)
    await anyio.to_thread.run_sync(server.start)

    # Then the very next requests succeed: closed connections are replaced at checkout
    for _ in range(3):
        assert await api(COUNT_LEADS) == {"leads": {"totalCount": 0}}


async def test_an_unresponsive_database_host_fails_within_the_connect_timeout() -> None:
    # Given a database address that accepts TCP connections but never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/nothing"
        app = create_app(Settings(database_url=url, database_connect_timeout=0.5), url)
        token = api_keys.format_token(uuid.uuid4(), uuid.uuid4(), api_keys.new_secret())
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                # When a request needs the database, and a probe asks
                response, elapsed = await timed(
                    Api(client, token).post(COUNT_LEADS)  # type: ignore[arg-type]
                )
                ready, ready_elapsed = await timed(client.get("/readyz"))
        finally:
            await app.state.database.dispose()

    # Then both answer within the connect timeout, not the driver's default minute
    assert response.status_code == 503
    assert elapsed < 0.5 + 1
    assert ready.status_code == 503
    assert ready_elapsed < 0.5 + 1
