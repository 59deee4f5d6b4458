"""Bulk writing through COPY, for seeding a workspace with up to millions of rows.

Row-by-row INSERTs cost a round trip and a statement per row; COPY streams rows in binary. But
PostgreSQL refuses COPY FROM into a table with row-level security for a role the policies bind,
and every tenant table forces it (migration 0004) on its owner too. So rows are copied into
temporary staging tables, which have no policies, and moved into the real tables with one
`INSERT ... SELECT` per table: that statement passes the policies like any other (the session
names the workspace, or the owner asks for all workspaces), fires the same triggers (the
statement trigger that keeps lead_stage_totals) and checks the same constraints.

Staging columns hold compact values where that is cheaper to produce in Python than the
column's own type: times as integer Unix milliseconds, converted by the INSERT. Values that are
the same in every row (the workspace) are written by the INSERT, not sent per row.

While the database moves one chunk from staging into the tables, the caller is free to build
the next chunk: the INSERTs of a chunk go as one multi-statement query, which the server runs
to the end without waiting for the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# work_mem for the seeding transaction (SET LOCAL: it ends with the transaction).
WORK_MEM = "256MB"


@dataclass(frozen=True, slots=True)
class StagedColumn:
    """A column of a staged table: sent as the column's own type, or as `staged_as` and turned
    into the column's type by `load` (an SQL expression over the staging column)."""

    name: str
    staged_as: str | None = None
    load: str | None = None


def plain(*names: str) -> tuple[StagedColumn, ...]:
    """Columns sent in their own type."""
    return tuple(StagedColumn(name) for name in names)


def millis(*names: str) -> tuple[StagedColumn, ...]:
    """timestamptz columns sent as integer Unix milliseconds. Converted in double precision
    (not numeric, which is slower): exact, since to_timestamp rounds to microseconds."""
    return tuple(
        StagedColumn(name, "bigint", f"to_timestamp({name}::double precision / 1000)")
        for name in names
    )


@dataclass(frozen=True, slots=True)
class StagedTable:
    """A table written through a staging table: the columns rows carry, in their order."""

    table: str
    columns: tuple[StagedColumn, ...]
    # Columns that are the same in every row: written by the INSERT, never sent.
    constant_columns: tuple[str, ...] = ("workspace_id",)

    @property
    def staging(self) -> str:
        return f"staged_{self.table}"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def create_sql(self) -> str:
        """The staging table: the target's column types (or the staged ones), no rows, no
        policies, no constraints; dropped when the transaction ends."""
        select = ", ".join(
            f"NULL::{column.staged_as} AS {column.name}" if column.staged_as else column.name
            for column in self.columns
        )
        return (
            f"CREATE TEMPORARY TABLE {self.staging} ON COMMIT DROP AS"  # noqa: S608 - identifiers
            f" SELECT {select} FROM {self.table} WITH NO DATA"  # are this module's constants
        )

    def insert_sql(self, constants: Mapping[str, str]) -> str:
        """Move the staged rows into the table; `constants` holds the SQL literal of each
        constant column."""
        names = [*self.constant_columns, *self.column_names]
        values = [
            *(constants[name] for name in self.constant_columns),
            *(column.load or column.name for column in self.columns),
        ]
        return (
            f"INSERT INTO {self.table} ({', '.join(names)})"  # noqa: S608 - see create_sql
            f" SELECT {', '.join(values)} FROM {self.staging}"
        )


@dataclass(slots=True)
class WriteStats:
    """Where the time went and how many rows each table got."""

    rows: dict[str, int] = field(default_factory=dict)
    copy_seconds: float = 0.0
    # Time spent waiting for the INSERTs (the part not overlapped with building rows).
    insert_wait_seconds: float = 0.0
    analyze_seconds: float = 0.0


class StagedWriter:
    """Writes chunks of rows into tables, in the given (foreign key) order, through COPY.

    `constants` maps each constant column of the tables to its SQL literal (the workspace).
    """

    def __init__(
        self, session: AsyncSession, tables: Sequence[StagedTable], constants: Mapping[str, str]
    ) -> None:
        self._session = session
        self._tables = list(tables)
        self._constants = constants
        self._connection: Any = None
        self._pending: asyncio.Task[str] | None = None
        self._move_sql = ""
        self.stats = WriteStats(rows={table.table: 0 for table in tables})

    async def open(self) -> None:
        """Create the staging tables, on the session's own connection and transaction."""
        connection = await self._session.connection()
        raw = await connection.get_raw_connection()
        self._connection = raw.driver_connection
        statements = [table.create_sql() for table in self._tables]
        moves = [table.insert_sql(self._constants) for table in self._tables]
        # Emptied in the same query that moves them, so the next chunk finds them empty.
        staging = ", ".join(table.staging for table in self._tables)
        self._move_sql = ";\n".join([*moves, f"TRUNCATE {staging}"])
        # Memory for the sorts and hashes of the statement trigger that rebuilds
        # lead_stage_totals from a whole chunk of visits (the default spills them to disk).
        statements.append(f"SET LOCAL work_mem = '{WORK_MEM}'")
        await self._connection.execute(";\n".join(statements))

    async def write(self, chunk: Mapping[str, Sequence[tuple[Any, ...]]]) -> None:
        """Copy a chunk (rows per table name) into staging and start moving it; returns while
        the database is still inserting, so the caller can build the next chunk meanwhile."""
        await self.wait()
        started = time.perf_counter()
        for table in self._tables:
            rows = chunk.get(table.table, ())
            if rows:
                await self._connection.copy_records_to_table(
                    table.staging, records=rows, columns=table.column_names
                )
                self.stats.rows[table.table] += len(rows)
        self.stats.copy_seconds += time.perf_counter() - started
        self._pending = asyncio.ensure_future(self._connection.execute(self._move_sql))
        # Let the task send the query before the caller's next (synchronous) work starts.
        await asyncio.sleep(0)

    async def wait(self) -> None:
        """Wait until the last chunk is in its tables (and raise its error, if any)."""
        if self._pending is None:
            return
        started = time.perf_counter()
        pending, self._pending = self._pending, None
        await pending
        self.stats.insert_wait_seconds += time.perf_counter() - started

    async def settle(self) -> None:
        """After a failure: let the running INSERTs end, so the transaction can roll back (their
        own error, if any, is secondary to the failure being raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending

    async def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics of the tables written (VACUUM cannot run inside a
        transaction; ANALYZE can, and is what the planner needs after a bulk load)."""
        await self.wait()
        started = time.perf_counter()
        await self._connection.execute(f"ANALYZE {', '.join(tables)}")
        self.stats.analyze_seconds += time.perf_counter() - started


def uuid_literal(value: uuid.UUID) -> str:
    """A uuid as an SQL literal (safe: a UUID's text is hex digits and dashes only)."""
    return f"'{uuid.UUID(str(value))}'::uuid"
