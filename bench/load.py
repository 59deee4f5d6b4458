"""Load benchmark of the real server: a board, a lead page and a mix with mutations.

What it measures, against `salesgraph serve` (one uvicorn worker) on a scratch database seeded
with --leads demo leads:

- board: 50 open leads with value, stage, owner and their 5 latest activities (with stage);
- lead-page: one lead (a different one each request) with its stage, owner, 20 latest
  activities, open objections and 20 latest timeline entries;
- mix: 40 % board, 40 % lead page, 20 % mutations (logActivity of a note on a random lead);

at each --concurrency level (default 1, 16 and 64 keep-alive clients), for --duration seconds
after --warmup. It prints requests/s, p50 and p99 latency, the error count and the server's CPU
time per request. With --soak SECONDS it then runs the mix at 16 clients for that long,
sampling the server's resident memory every 10 s, and fails if any request failed.

The rate limit is switched off for the server under test (SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE
=0): this measures the server, not its limiter. Run with the project's virtualenv:

    .venv/bin/python bench/load.py [--leads 1000] [--duration 10] [--soak 300]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.board import (
    BOARD_QUERY,
    BenchmarkError,
    Server,
    _interrupt,
    bench_database,
    running_server,
    seed,
    wait_until_healthy,
)

from salesgraph.db import migrations

LEAD_PAGE_QUERY = """
query LeadPage($id: ID!) {
  lead(id: $id) {
    id title status value { amount currency } nextFollowUpAt lastActivityAt
    stage { id name }
    owner { id name }
    activities(first: 20) {
      totalCount
      edges { node { id type status occurredAt dueAt outcome stage { name } } }
    }
    openObjections { id category customerWords }
    timeline(first: 20) {
      edges { node { __typename ... on TimelineEvent { type occurredAt } } }
    }
  }
}
"""

LOG_NOTE = """
mutation LogNote($input: LogActivityInput!) {
  logActivity(input: $input) { activity { id } errors { code message } }
}
"""

SCENARIOS = ("board", "lead-page", "mix")
SOAK_CONCURRENCY = 16
MEMORY_SAMPLE_SECONDS = 10.0


@dataclass
class Window:
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    memory: list[int] = field(default_factory=list)


def request_maker(scenario: str, lead_ids: list[str]) -> Callable[[random.Random], dict[str, Any]]:
    """A function giving the next request body of a scenario."""

    def board(rng: random.Random) -> dict[str, Any]:
        return {"query": BOARD_QUERY, "variables": {"first": 50}}

    def lead_page(rng: random.Random) -> dict[str, Any]:
        return {"query": LEAD_PAGE_QUERY, "variables": {"id": rng.choice(lead_ids)}}

    def mutation(rng: random.Random) -> dict[str, Any]:
        note = {"leadId": rng.choice(lead_ids), "type": "NOTE", "subject": "load test"}
        return {"query": LOG_NOTE, "variables": {"input": note}}

    def mix(rng: random.Random) -> dict[str, Any]:
        roll = rng.random()
        return board(rng) if roll < 0.4 else lead_page(rng) if roll < 0.8 else mutation(rng)

    return {"board": board, "lead-page": lead_page, "mix": mix}[scenario]


def _failed(response: httpx.Response) -> bool:
    # orjson writes compact JSON: an error list shows up as `"errors":`, a payload error
    # of a mutation as a non-empty `"errors":[{`.
    return (
        response.status_code != 200
        or b'"errors":[{' in response.content
        or (b'"errors":' in response.content and b'"data":' not in response.content)
    )


async def run_window(
    client: httpx.AsyncClient,
    server: Server,
    make: Callable[[random.Random], dict[str, Any]],
    concurrency: int,
    duration: float,
    *,
    sample_memory: bool = False,
) -> Window:
    window = Window()
    deadline = time.monotonic() + duration

    async def worker(number: int) -> None:
        rng = random.Random(number)
        while time.monotonic() < deadline:
            body = make(rng)
            started = time.perf_counter()
            try:
                response = await client.post("/graphql", json=body)
                failed = _failed(response)
            except httpx.HTTPError:
                failed = True
            window.latencies.append(time.perf_counter() - started)
            window.requests += 1
            window.failures += failed

    async def sampler() -> None:
        process = psutil.Process(server.process.pid)
        while time.monotonic() < deadline:
            window.memory.append(process.memory_info().rss)
            await asyncio.sleep(MEMORY_SAMPLE_SECONDS)
        window.memory.append(process.memory_info().rss)

    cpu = server.cpu_seconds()
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for number in range(concurrency):
            group.create_task(worker(number))
        if sample_memory:
            group.create_task(sampler())
    window.elapsed = time.perf_counter() - started
    window.server_cpu = server.cpu_seconds() - cpu
    return window


async def lead_ids_of(client: httpx.AsyncClient) -> list[str]:
    response = await client.post(
        "/graphql", json={"query": "{ leads(first: 100) { nodes { id } } }"}
    )
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise BenchmarkError(f"listing leads failed: {response.text[:300]}")
    return [node["id"] for node in body["data"]["leads"]["nodes"]]


def row(scenario: str, concurrency: int, window: Window) -> str:
    quantiles = statistics.quantiles(window.latencies, n=100, method="inclusive")
    return (
        f"| {scenario:<9} | {concurrency:>7} | {window.requests / window.elapsed:>8.1f} "
        f"| {quantiles[49] * 1000:>8.1f} | {quantiles[98] * 1000:>8.1f} | {window.failures:>6} "
        f"| {window.server_cpu * 1000 / max(window.requests, 1):>14.1f} |"
    )


HEADER = (
    "| scenario  | clients |    req/s | p50 (ms) | p99 (ms) | errors | CPU/req (ms) |\n"
    "|-----------|---------|----------|----------|----------|--------|--------------|"
)


async def measure(server: Server, token: str, args: argparse.Namespace) -> list[str]:
    most = max(args.concurrency)
    limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"authorization": f"Bearer {token}"},
        limits=limits,
        timeout=60.0,
    ) as client:
        lead_ids = await lead_ids_of(client)
        lines = []
        for scenario in args.scenarios:
            make = request_maker(scenario, lead_ids)
            for concurrency in args.concurrency:
                await run_window(client, server, make, concurrency, args.warmup)
                window = await run_window(client, server, make, concurrency, args.duration)
                lines.append(row(scenario, concurrency, window))
                print(lines[-1])
        if args.soak:
            print(f"soak: mix at {SOAK_CONCURRENCY} clients for {args.soak:g}s ...")
            make = request_maker("mix", lead_ids)
            window = await run_window(
                client, server, make, SOAK_CONCURRENCY, args.soak, sample_memory=True
            )
            mib = [value / 2**20 for value in window.memory]
            lines.append("")
            lines.append(
                f"soak: {window.requests} requests in {window.elapsed:.0f}s "
                f"({window.requests / window.elapsed:.1f} req/s), {window.failures} failed; "
                f"server RSS MiB first {mib[0]:.1f}, min {min(mib):.1f}, max {max(mib):.1f}, "
                f"last {mib[-1]:.1f} ({len(mib)} samples)"
            )
            if window.failures:
                raise BenchmarkError(f"{window.failures} requests failed during the soak")
        return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server whose user may create databases (default: %(default)s)",
    )
    parser.add_argument("--leads", type=int, default=1000, help="leads to seed (%(default)s)")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 16, 64],
        help="comma-separated client counts (default: 1,16,64)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda text: text.split(","),
        default=list(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (%(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds (%(default)s)")
    parser.add_argument("--soak", type=float, default=0.0, help="soak seconds (0: none)")
    args = parser.parse_args(argv)
    if any(scenario not in SCENARIOS for scenario in args.scenarios):
        parser.error(f"--scenarios are {', '.join(SCENARIOS)}")
    if any(not 1 <= level <= 256 for level in args.concurrency):
        parser.error("--concurrency levels are between 1 and 256")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, _interrupt)
    environment = {
        "SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE": "0",
        "SALESGRAPH_DATABASE_POOL_SIZE": "20",
        "SALESGRAPH_LOG_LEVEL": "WARNING",
    }
    try:
        with bench_database(args.database_url) as url:
            migrations.upgrade(url)
            _, token = asyncio.run(seed(url, args.leads, 7))
            with running_server(url, None, environment) as server:
                asyncio.run(wait_until_healthy(server, 30.0))
                print(HEADER)
                lines = asyncio.run(measure(server, token, args))
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print()
    print(HEADER)
    print("\n".join(lines))
    print(
        f"\n{args.leads} seeded leads; {os.cpu_count()} CPUs shared by the server (1 worker), "
        f"PostgreSQL and the load client; {args.duration:g}s per cell after {args.warmup:g}s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
