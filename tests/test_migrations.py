"""Alembic is the only way the schema is made: the migrations match the models and round-trip."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from salesgraph.db import migrations
from salesgraph.db.engine import async_database_url
from salesgraph.db.registry import Base
from salesgraph.db.scratch import scratch_database
from tests.conftest import server_url


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    """A database of its own, so downgrading does not disturb the other tests."""
    with scratch_database(server_url(), "salesgraph_migrations") as url:
        yield url


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(async_database_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(async_database_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                return {row[0] for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrations_match_the_models(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    assert _differences(scratch_url) == []


def test_upgrade_downgrade_round_trip(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    migrations.downgrade(scratch_url, "base")
    assert _tables(scratch_url) == {"alembic_version"}
    migrations.upgrade(scratch_url)
    assert _tables(scratch_url) >= {"workspaces", "leads", "stage_visits", "domain_events"}
    assert _differences(scratch_url) == []


def test_every_tenant_key_leads_with_the_workspace() -> None:
    """workspace_id is part of every primary key, unique constraint and foreign key."""
    from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, UniqueConstraint

    for table in Base.metadata.sorted_tables:
        # Tables marked info={"tenant": False} hold no workspace's rows (idempotency_records).
        if table.name == "workspaces" or not table.info.get("tenant", True):
            continue
        for constraint in table.constraints:
            if isinstance(constraint, PrimaryKeyConstraint) and not constraint.columns:
                # No primary key (activity_daily: a nullable key column): a unique index is
                # the key, and it leads with the workspace like every index (below).
                assert any(index.unique for index in table.indexes), table.name
            elif isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                assert constraint.columns.keys()[0] == "workspace_id", (table.name, constraint)
            if isinstance(constraint, ForeignKeyConstraint):
                assert constraint.column_keys[0] == "workspace_id", (table.name, constraint.name)
        for index in table.indexes:
            assert index.expressions[0].name == "workspace_id", (table.name, index.name)
