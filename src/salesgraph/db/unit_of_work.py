"""Sessions for requests: the only module that commits.

Services flush; the edge commits. A mutation runs in `unit_of_work`, which commits when the
block ends normally and rolls back on any exception, so several service calls compose into one
transaction that happens completely or not at all. Reads use `read_session`, which never
commits. Each concurrent task (a root query field, a DataLoader batch) opens its own session.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.db.engine import Database
from salesgraph.db.tenancy import scope_session


@asynccontextmanager
async def unit_of_work(
    database: Database, *, workspace_id: uuid.UUID | None
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction, committed at the end of the block, rolled back on error.

    `workspace_id=None` opens a deliberately unscoped session (CLI, authentication).
    """
    async with database.sessionmaker() as session:
        scope_session(session.sync_session, workspace_id)
        async with session.begin():
            yield session


@asynccontextmanager
async def read_session(
    database: Database, *, workspace_id: uuid.UUID | None
) -> AsyncIterator[AsyncSession]:
    """A session for reading; whatever it did is rolled back when it closes."""
    async with database.sessionmaker() as session:
        scope_session(session.sync_session, workspace_id)
        yield session
