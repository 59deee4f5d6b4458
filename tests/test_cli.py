"""The `salesgraph` command line, run as a user would run it, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from salesgraph.db import migrations
from salesgraph.graphql.schema import export_sdl
from tests.conftest import Api

pytestmark = pytest.mark.anyio

BIN = Path(sys.executable).parent / "salesgraph"


def salesgraph(
    *args: str, database_url: str | None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SALESGRAPH_")
    }
    if database_url is not None:
        environment["SALESGRAPH_DATABASE_URL"] = database_url
    environment.update(env)
    return subprocess.run(  # noqa: S603 - our own console script
        [str(BIN), *args], capture_output=True, text=True, env=environment, check=False, timeout=120
    )


def test_export_schema_prints_the_sdl() -> None:
    result = salesgraph("export-schema", database_url=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout == export_sdl()


def test_migrate_reports_the_head_revision(database_url: str) -> None:
    result = salesgraph("migrate", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert f"database at revision {migrations.head_revision()}" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SALESGRAPH_DATABASE_URL": "mysql://x@y/z"}, "SALESGRAPH_DATABASE_URL"),
        ({"SALESGRAPH_PAGE_SIZE_MAX": "lots"}, "SALESGRAPH_PAGE_SIZE_MAX"),
        ({"SALESGRAPH_LOG_LEVEL": "loud"}, "SALESGRAPH_LOG_LEVEL"),
    ],
)
def test_bad_configuration_fails_with_one_line(env: dict[str, str], message: str) -> None:
    result = salesgraph("migrate", database_url=None, **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("salesgraph: invalid configuration:")
    assert message in lines[0]


def test_unreachable_database_fails_without_traceback() -> None:
    result = salesgraph("migrate", database_url="postgresql://nobody@127.0.0.1:1/nothing")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


async def test_workspace_and_key_lifecycle(database_url: str, client: httpx.AsyncClient) -> None:
    # given a workspace made on the command line
    created = salesgraph(
        "workspace",
        "create",
        "Cli Co",
        "--admin-email",
        "Boss@Cli.example",
        "--json",
        database_url=database_url,
    )
    assert created.returncode == 0, created.stderr
    output = json.loads(created.stdout)
    assert set(output) == {"workspace_id", "api_key"}
    admin = Api(client, output["api_key"])
    viewer = await admin("{ viewer { workspace { id name } member { email role } scopes } }")
    assert viewer["viewer"] == {
        "workspace": {"id": output["workspace_id"], "name": "Cli Co"},
        "member": {"email": "boss@cli.example", "role": "ADMIN"},
        "scopes": ["ADMIN", "READ", "WRITE"],
    }

    # when a read-only key is made and then revoked
    key = salesgraph(
        "api-key",
        "create",
        "--workspace",
        output["workspace_id"],
        "--scopes",
        "read",
        "--name",
        "BI",
        "--json",
        database_url=database_url,
    )
    assert key.returncode == 0, key.stderr
    key_output = json.loads(key.stdout)
    reader = Api(client, key_output["api_key"])
    assert (await reader("{ viewer { scopes apiKey { name } } }"))["viewer"] == {
        "scopes": ["READ"],
        "apiKey": {"name": "BI"},
    }
    revoked = salesgraph("api-key", "revoke", key_output["key_id"], database_url=database_url)
    assert revoked.returncode == 0, revoked.stderr

    # then the revoked key no longer works, and revoking twice says so
    assert (await reader.post("{ viewer { scopes } }")).status_code == 401
    again = salesgraph("api-key", "revoke", key_output["key_id"], database_url=database_url)
    assert again.returncode == 2
    assert "already revoked" in again.stderr


def test_command_errors_are_one_line(database_url: str) -> None:
    bad_email = salesgraph(
        "workspace", "create", "X", "--admin-email", "not-an-email", database_url=database_url
    )
    assert bad_email.returncode == 2
    assert (
        bad_email.stderr.strip() == "salesgraph: adminEmail: 'not-an-email' is not an email address"
    )
    unknown = salesgraph(
        "api-key",
        "create",
        "--workspace",
        str(uuid.uuid4()),
        "--scopes",
        "read",
        database_url=database_url,
    )
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "salesgraph: workspaceId: workspace does not exist"
    bad_scope = salesgraph(
        "api-key",
        "create",
        "--workspace",
        str(uuid.uuid4()),
        "--scopes",
        "read,root",
        database_url=database_url,
    )
    assert bad_scope.returncode == 2
    assert "scopes are read, write and admin" in bad_scope.stderr


async def test_seed_demo_is_deterministic(database_url: str, client: httpx.AsyncClient) -> None:
    summaries = []
    for _ in range(2):
        result = salesgraph("seed-demo", "--leads", "40", "--seed", "3", database_url=database_url)
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
        data = await Api(client, token)(
            """{ leads(first: 100, orderBy: [{field: CREATED_AT}]) { totalCount edges { node {
                 title status value { amount currency } owner { email } stage { name }
                 stageHistory(first: 50) { totalCount edges { node { entry exit } } } } } } }"""
        )
        summaries.append(data)
    assert summaries[0] == summaries[1]
    leads = [edge["node"] for edge in summaries[0]["leads"]["edges"]]
    assert summaries[0]["leads"]["totalCount"] == 40
    for lead in leads:
        visits = [edge["node"] for edge in lead["stageHistory"]["edges"]]
        assert visits[0]["entry"] == "CREATED"
        open_visits = [visit for visit in visits if visit["exit"] is None]
        assert len(open_visits) == (1 if lead["status"] == "OPEN" else 0)
        if lead["status"] != "OPEN":
            assert visits[-1]["exit"] == lead["status"]
