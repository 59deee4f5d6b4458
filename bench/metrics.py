"""Metric query times at 10k, 100k and 1M leads: median time and rows scanned per statement.

For each size, a scratch database on the benchmark server is migrated and seeded with
`salesgraph seed-demo --leads N` (deterministic: the same seed and end date every run), then
vacuumed. Every metric statement of salesgraph.metrics.queries runs for the demo pipeline over
the year before the seed's end date, as the application role with the workspace set (so
row-level security is paid for, as in production): one warm-up, then `--runs` timed runs.
"rows scanned" is the sum over the plan's scan nodes of the rows they read (returned plus
filtered out) times their loops, from EXPLAIN ANALYZE.

    .venv/bin/python bench/metrics.py                      # 10k, 100k, 1M
    .venv/bin/python bench/metrics.py --sizes 10000 100000 --runs 9

The server is SALESGRAPH_BENCH_DATABASE_URL, else SALESGRAPH_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres. Target: every metric under 200 ms at 100k leads,
and time growing no faster than the number of leads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from salesgraph.db.engine import async_database_url
from salesgraph.db.scratch import execute_on_server
from salesgraph.metrics.queries import METRIC_QUERIES
from salesgraph.metrics.scope import MetricScope
from salesgraph.metrics.service import SORT_MEMORY

ROOT = Path(__file__).resolve().parents[1]
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
SEED = 7
SCAN_NODES = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def server_url() -> str:
    return (
        os.environ.get("SALESGRAPH_BENCH_DATABASE_URL")
        or os.environ.get("SALESGRAPH_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def database_url(name: str) -> str:
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


async def recreate(name: str) -> None:
    await execute_on_server(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await execute_on_server(server_url(), f'CREATE DATABASE "{name}"')


async def drop(name: str) -> None:
    await execute_on_server(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, leads: int) -> float:
    """Migrate and seed through the command line; returns the seconds it took."""
    env = {**os.environ, "SALESGRAPH_DATABASE_URL": url}
    command = ROOT / ".venv" / "bin" / "salesgraph"
    executable = str(command) if command.exists() else "salesgraph"
    started = time.perf_counter()
    subprocess.run([executable, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
    subprocess.run(  # noqa: S603 - the project's own command
        [
            executable,
            "seed-demo",
            "--leads",
            str(leads),
            "--seed",
            str(SEED),
            "--until",
            UNTIL.date().isoformat(),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def rows_scanned(plan: dict[str, Any]) -> int:
    total = 0
    if plan.get("Node Type") in SCAN_NODES:
        read = (
            plan.get("Actual Rows", 0)
            + plan.get("Rows Removed by Filter", 0)
            + plan.get("Rows Removed by Index Recheck", 0)
        )
        total += int(read * plan.get("Actual Loops", 1))
    for child in plan.get("Plans", ()):
        total += rows_scanned(child)
    return total


async def as_application(connection: AsyncConnection, workspace_id: str) -> None:
    """The session as the server's requests run: its role, its workspace, the sort memory the
    metrics service sets for a funnel."""
    await connection.execute(text("SET ROLE salesgraph_app"))
    await connection.execute(text(f"SET work_mem = '{SORT_MEMORY}'"))
    await connection.execute(
        text("SELECT set_config('salesgraph.workspace_id', :ws, false)"), {"ws": workspace_id}
    )


async def measure(url: str, runs: int) -> list[tuple[str, float, int, int]]:
    engine = create_async_engine(async_database_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text("VACUUM ANALYZE"))
        workspace_id, pipeline_id = (
            await connection.execute(
                text("SELECT workspace_id, id FROM pipelines ORDER BY created_at LIMIT 1")
            )
        ).one()
        leads = await connection.scalar(text("SELECT count(*) FROM leads"))
        await as_application(connection, str(workspace_id))
        scope = MetricScope(workspace_id, pipeline_id, UNTIL - timedelta(days=365), UNTIL)
        results = []
        for name, build in METRIC_QUERIES.items():
            statement = build(scope)
            await connection.execute(statement.sql, statement.params)  # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await connection.execute(statement.sql, statement.params)
                times.append((time.perf_counter() - started) * 1000)
            explained = await connection.scalar(
                text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(statement.sql)), statement.params
            )
            plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
            results.append((name, statistics.median(times), rows_scanned(plan["Plan"]), leads))
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch databases.")
    arguments = parser.parse_args()
    table: dict[str, dict[int, tuple[float, int]]] = {}
    seeded: dict[int, float] = {}
    for size in arguments.sizes:
        name = f"salesgraph_bench_metrics_{size}"
        asyncio.run(recreate(name))
        try:
            print(f"seeding {size:,} leads …", file=sys.stderr, flush=True)
            seeded[size] = seed(database_url(name), size)
            for metric, median, scanned, _ in asyncio.run(
                measure(database_url(name), arguments.runs)
            ):
                table.setdefault(metric, {})[size] = (median, scanned)
        finally:
            if not arguments.keep:
                asyncio.run(drop(name))
    sizes = arguments.sizes
    header = f"{'metric':<22}" + "".join(f"{f'{s:,} leads':>26}" for s in sizes)
    print(header)
    print(f"{'':<22}" + "".join(f"{'median ms':>12}{'rows scanned':>14}" for _ in sizes))
    for metric, by_size in table.items():
        cells = "".join(f"{by_size[s][0]:>12.1f}{by_size[s][1]:>14,}" for s in sizes)
        print(f"{metric:<22}{cells}")
    print(f"{'seed (s)':<22}" + "".join(f"{seeded[s]:>12.1f}{'':>14}" for s in sizes))
    slowest = {s: max(by_size[s][0] for by_size in table.values()) for s in sizes}
    print(f"{'slowest metric (ms)':<22}" + "".join(f"{slowest[s]:>12.1f}{'':>14}" for s in sizes))


if __name__ == "__main__":
    main()
