"""Benchmark of the sales board query against the real server.

What it measures: a board screen's read, i.e. 50 open leads with value, stage, owner and their
5 latest activities (with each activity's stage). The script

1. creates a scratch database `salesgraph_bench_<random>` on the PostgreSQL server given by
   --database-url, migrates it and seeds a demo workspace (--leads) with an admin API key;
2. counts the SQL statements one board request sends, in-process through the ASGI app, for
   pages of 10, 50 and 100 leads (an N+1 shows up as counts growing with the page size);
3. starts `salesgraph serve` (one uvicorn worker) as a subprocess on a free port of 127.0.0.1,
   waits for /healthz, and runs the board query from --concurrency keep-alive clients for
   --warmup seconds (not measured), then for --duration seconds (measured);
4. prints a markdown table: requests/s, latency p50/p95/p99, the server process's CPU time
   (user + system, from psutil) per request, and the statement counts. PostgreSQL's own CPU is
   not included. The load clients run on the same machine and compete for its CPUs.

The server is stopped and the database dropped at the end, also after an error or Ctrl-C.

Run it from the repository root with the project's virtualenv:

    .venv/bin/python bench/board.py
    .venv/bin/python bench/board.py --leads 5000 --concurrency 8 --duration 30 \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import asyncpg
import httpx
import psutil
from sqlalchemy import event
from sqlalchemy.engine import make_url

from salesgraph.app import create_app
from salesgraph.db import migrations
from salesgraph.db.engine import create_database
from salesgraph.db.scratch import scratch_database
from salesgraph.db.unit_of_work import unit_of_work
from salesgraph.demo import seed_demo_workspace
from salesgraph.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
BOARD_SIZE = 50
COUNTED_PAGE_SIZES = (10, BOARD_SIZE, 100)
STOP_TIMEOUT = 10.0

BOARD_QUERY = """
query Board($first: Int!) {
  leads(first: $first, filter: {status: {eq: OPEN}}) {
    totalCount
    edges {
      node {
        id
        title
        value { amount currency }
        stage { id name }
        owner { id name }
        activities(first: 5) {
          edges { node { type status occurredAt outcome stage { name } } }
        }
      }
    }
  }
}
"""


class BenchmarkError(Exception):
    """The benchmark cannot go on; the message says why."""


# --- the scratch database ---------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server; dropped (connections and all) on exit."""
    try:
        with scratch_database(server_url, "salesgraph_bench") as url:
            print(f"created database {make_url(url).database}")
            yield url
    except (OSError, asyncpg.PostgresError) as error:
        server = make_url(server_url)  # renders the password as ***
        raise BenchmarkError(f"database server {server}: {error}") from error
    print(f"dropped database {make_url(url).database}")


async def seed(database_url: str, leads: int, seed_value: int) -> tuple[uuid.UUID, str]:
    database = create_database(database_url, pool_size=1, max_overflow=0)
    try:
        async with unit_of_work(database, workspace_id=None) as session:
            return await seed_demo_workspace(session, leads=leads, seed=seed_value)
    finally:
        await database.dispose()


# --- statements per request, in-process -------------------------------------------------------


def _check_board(body: dict[str, Any], expected_edges: int | None) -> int:
    """The number of leads on the page; raises when the response has errors or too few."""
    if body.get("errors"):
        raise BenchmarkError(f"the board query returned errors: {body['errors']}")
    edges = len(body["data"]["leads"]["edges"])
    if expected_edges is not None and edges != expected_edges:
        raise BenchmarkError(f"expected {expected_edges} leads on the board, got {edges}")
    return edges


@dataclass
class StatementCount:
    page_size: int
    leads_returned: int
    statements: list[str]


async def count_statements(database_url: str, token: str) -> list[StatementCount]:
    """Run the board query through the ASGI app and count the SQL statements it sends."""
    app = create_app(Settings(database_url=database_url), database_url)
    recorded: list[str] = []
    active = False

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if active:
            recorded.append(statement)

    event.listen(app.state.database.engine.sync_engine, "before_cursor_execute", record)
    results: list[StatementCount] = []
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://asgi", headers=headers
        ) as client:

            async def board(first: int) -> int:
                payload = {"query": BOARD_QUERY, "variables": {"first": first}}
                response = await client.post("/graphql", json=payload)
                if response.status_code != 200:
                    raise BenchmarkError(f"HTTP {response.status_code}: {response.text[:500]}")
                return _check_board(response.json(), None)

            # The first request of a key also records its last use; keep that write out.
            await board(COUNTED_PAGE_SIZES[0])
            for first in COUNTED_PAGE_SIZES:
                recorded.clear()
                active = True
                try:
                    returned = await board(first)
                finally:
                    active = False
                results.append(StatementCount(first, returned, list(recorded)))
    finally:
        await app.state.database.dispose()
    return results


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command() -> Path:
    """`salesgraph` next to the running interpreter, else the repository's virtualenv."""
    for candidate in (Path(sys.executable).parent / "salesgraph", ROOT / ".venv/bin/salesgraph"):
        if candidate.exists():
            return candidate
    raise BenchmarkError("cannot find the salesgraph command; run with the project's .venv")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_server(
    database_url: str, log_level: str | None, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`salesgraph serve` on a free local port; terminated (then killed) on exit."""
    port = free_port()
    env = {**os.environ, "SALESGRAPH_DATABASE_URL": database_url, **(extra_env or {})}
    if log_level is not None:
        env["SALESGRAPH_LOG_LEVEL"] = log_level
    salesgraph = server_command()
    serve = ["serve", "--host", HOST, "--port", str(port)]
    command = [str(salesgraph), *serve]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark, which stops the server
        )
        server = Server(process, port, log)
        try:
            yield server
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
            print(f"stopped server (pid {process.pid}, exit code {process.returncode})")


async def wait_until_healthy(server: Server, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchmarkError(
                    f"the server exited with code {server.process.returncode}:\n"
                    + server.log_tail()
                )
            with contextlib.suppress(httpx.TransportError):
                response = await client.get("/healthz")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise BenchmarkError(f"no healthy server after {within:.0f}s:\n{server.log_tail()}")


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Window:
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


def _process_cpu() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


async def run_window(
    client: httpx.AsyncClient, server: Server, concurrency: int, duration: float
) -> Window:
    """Run the board query from `concurrency` clients for `duration` seconds."""
    payload = {"query": BOARD_QUERY, "variables": {"first": BOARD_SIZE}}
    window = Window()
    deadline = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.post("/graphql", json=payload)
            latency = time.perf_counter() - started
            # orjson writes compact JSON: an error list shows up as `"errors":`.
            if response.status_code != 200 or b'"errors":' in response.content:
                window.failures += 1
            window.requests += 1
            window.latencies.append(latency)

    server_cpu, client_cpu = server.cpu_seconds(), _process_cpu()
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    window.elapsed = time.perf_counter() - started
    window.server_cpu = server.cpu_seconds() - server_cpu
    window.client_cpu = _process_cpu() - client_cpu
    return window


async def run_load(server: Server, token: str, args: argparse.Namespace) -> Window:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"authorization": f"Bearer {token}"},
        limits=limits,
        timeout=30.0,
    ) as client:
        response = await client.post(
            "/graphql", json={"query": BOARD_QUERY, "variables": {"first": BOARD_SIZE}}
        )
        if response.status_code != 200:
            raise BenchmarkError(f"HTTP {response.status_code}: {response.text[:500]}")
        body = response.json()
        _check_board(body, BOARD_SIZE)
        print(
            f"first response: {BOARD_SIZE} leads of {body['data']['leads']['totalCount']} open, "
            "no errors"
        )
        print(f"warming up for {args.warmup:g}s ...")
        await run_window(client, server, args.concurrency, args.warmup)
        print(f"measuring for {args.duration:g}s with {args.concurrency} clients ...")
        window = await run_window(client, server, args.concurrency, args.duration)
    if window.failures:
        raise BenchmarkError(f"{window.failures} of {window.requests} requests failed")
    return window


# --- the report -------------------------------------------------------------------------------


def percentile_ms(quantiles: list[float], percent: int) -> str:
    return f"{quantiles[percent - 1] * 1000:.1f}"


def report(args: argparse.Namespace, window: Window, counts: list[StatementCount]) -> str:
    quantiles = statistics.quantiles(window.latencies, n=100, method="inclusive")
    per_page = ", ".join(
        f"{len(c.statements)} for {c.page_size} ({c.leads_returned} returned)" for c in counts
    )
    rows = [
        ("Seeded leads (workspace)", f"{args.leads}"),
        ("Concurrent clients (keep-alive)", f"{args.concurrency}"),
        ("Server", "salesgraph serve, 1 worker"),
        ("Measured window", f"{window.elapsed:.1f} s (after {args.warmup:g} s warm-up)"),
        ("Requests (failed)", f"{window.requests} ({window.failures})"),
        ("Throughput", f"{window.requests / window.elapsed:.1f} req/s"),
        ("Latency p50", f"{percentile_ms(quantiles, 50)} ms"),
        ("Latency p95", f"{percentile_ms(quantiles, 95)} ms"),
        ("Latency p99", f"{percentile_ms(quantiles, 99)} ms"),
        ("Server CPU per request", f"{window.server_cpu * 1000 / window.requests:.2f} ms"),
        ("Server CPU utilisation", f"{window.server_cpu / window.elapsed * 100:.0f} % of a core"),
        ("Load client CPU utilisation", f"{window.client_cpu / window.elapsed * 100:.0f} %"),
        ("SQL statements per request (page size)", per_page),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'Metric'.ljust(width)} | Value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server whose user may create databases (default: %(default)s)",
    )
    parser.add_argument("--leads", type=int, default=1000, help="leads to seed (%(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="demo data seed (%(default)s)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients (%(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (%(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds (%(default)s)")
    parser.add_argument(
        "--server-log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=None,
        help="SALESGRAPH_LOG_LEVEL for the server (default: the server's own, INFO, which "
        "writes an access-log line per request)",
    )
    parser.add_argument("--startup-timeout", type=float, default=30.0, help="seconds (%(default)s)")
    parser.add_argument(
        "--show-statements", action="store_true", help="print the counted SQL statements"
    )
    args = parser.parse_args(argv)
    if args.leads < BOARD_SIZE:
        parser.error(f"--leads must be at least {BOARD_SIZE}")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if not (0 < args.duration <= 3600 and 0 <= args.warmup <= 600):
        parser.error("--duration must be in (0, 3600] and --warmup in [0, 600]")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows up when piped, too
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on `kill` as on Ctrl-C
    print(
        "board query: 50 open leads with value, stage, owner and their 5 latest activities "
        "(each with its stage)"
    )
    try:
        with bench_database(args.database_url) as url:
            migrations.upgrade(url)
            started = time.monotonic()
            _, token = asyncio.run(seed(url, args.leads, args.seed))
            print(f"seeded {args.leads} leads in {time.monotonic() - started:.1f}s")
            counts = asyncio.run(count_statements(url, token))
            for count in counts:
                print(
                    f"first: {count.page_size} -> {len(count.statements)} SQL statements "
                    f"({count.leads_returned} leads returned)"
                )
                if args.show_statements:
                    for statement in count.statements:
                        print("    " + " ".join(statement.split())[:160])
            # The server's rate limit would refuse a benchmark's load: this measures the server.
            no_limit = {"SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE": "0"}
            with running_server(url, args.server_log_level, no_limit) as server:
                asyncio.run(wait_until_healthy(server, args.startup_timeout))
                print(f"server pid {server.process.pid} healthy at {server.base_url}")
                window = asyncio.run(run_load(server, token, args))
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print()
    print(report(args, window, counts))
    print(f"\n{os.cpu_count()} CPUs shared by the server, PostgreSQL and the load client.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
