"""Throwaway databases on a PostgreSQL server, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url


async def execute_on_server(server_url: str, statement: str) -> None:
    """Run one statement (such as CREATE DATABASE) on the server named by a postgresql:// URL."""
    parsed = make_url(server_url)
    connection = await asyncpg.connect(
        host=parsed.query.get("host") or parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database named `<prefix>_<random>`; dropped on exit, whatever happened.

    Blocking: call it outside a running event loop.
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(execute_on_server(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute_on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
