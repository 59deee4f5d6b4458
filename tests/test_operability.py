"""Operability: health and readiness, Prometheus metrics, the access log, JSON log lines, and
`salesgraph serve` draining in-flight requests on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.observability import (
    JsonFormatter,
    Observability,
    OperationLabels,
    RequestRecord,
    TextFormatter,
)
from salesgraph.settings import Settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio

BIN = Path(sys.executable).parent / "salesgraph"
CREATE_LEAD = (
    "mutation CreateLead($input: CreateLeadInput!) "
    "{ createLead(input: $input) { lead { id } errors { code } } }"
)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics as {(sample name, labels): value}."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_total(metrics: dict[Any, float], operation: str, outcome: str) -> float:
    labels = frozenset({("operation", operation), ("outcome", outcome)})
    return metrics.get(("salesgraph_requests_total", labels), 0.0)


# Health and readiness


async def test_healthz_and_readyz_answer_ok_on_a_migrated_database(
    client: httpx.AsyncClient,
) -> None:
    # When the probes ask
    health = await client.get("/healthz")
    ready = await client.get("/readyz")

    # Then both are fine
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


# Metrics


async def test_metrics_count_requests_by_operation_and_outcome(
    api: Api, client: httpx.AsyncClient
) -> None:
    # Given requests of every kind
    assert (await api.post("query CountLeads { leads { totalCount } }")).status_code == 200
    assert (await api.post("query CountLeads { leads { totalCount } }")).status_code == 200
    assert (await api.post("{ __typename }")).status_code == 200
    bad_cursor = await api.post('query BadCursor { leads(after: "nonsense") { totalCount } }')
    assert bad_cursor.json()["errors"]
    invalid = await api.post("query Invalid { noSuchField }")
    assert invalid.json()["errors"]
    unauthenticated = await api.as_key(None).post("query CountLeads { leads { totalCount } }")
    assert unauthenticated.status_code == 401

    # When Prometheus scrapes
    metrics = await scrape(client)

    # Then each request is counted once, by operation name and outcome
    assert requests_total(metrics, "CountLeads", "ok") == 2
    assert requests_total(metrics, "anonymous", "ok") == 1
    assert requests_total(metrics, "BadCursor", "errors") == 1  # ran, and failed
    assert requests_total(metrics, "Invalid", "rejected") == 1  # refused before running
    assert requests_total(metrics, "none", "unauthenticated") == 1  # never reached GraphQL
    # and timed, by operation
    count = ("salesgraph_request_duration_seconds_count", frozenset({("operation", "CountLeads")}))
    assert metrics[count] == 2
    # and the database pool is reported as it is at scrape time
    assert metrics[("salesgraph_db_pool_size", frozenset())] == 10
    assert metrics[("salesgraph_db_pool_max_overflow", frozenset())] == 10
    assert metrics[("salesgraph_db_pool_checked_out", frozenset())] == 0
    assert metrics[("salesgraph_db_pool_checked_in", frozenset())] >= 1
    assert metrics[("salesgraph_db_pool_overflow", frozenset())] == 0
    assert metrics[("salesgraph_requests_in_flight", frozenset())] == 0
    assert metrics[("salesgraph_rate_limited_total", frozenset())] == 0
    # and the process too
    assert metrics[("process_resident_memory_bytes", frozenset())] > 0


async def test_each_app_has_its_own_metrics(settings: Settings, database_url: str) -> None:
    # Given two apps in one process
    first, second = create_app(settings, database_url), create_app(settings, database_url)
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as b,
        ):
            # When only the first serves a request
            await a.post("/graphql", json={"query": "query Ping { __typename }"})

            # Then only the first counts it (a keyless request's name is not a label)
            assert requests_total(await scrape(a), "other", "ok") == 1
            assert requests_total(await scrape(b), "other", "ok") == 0
    finally:
        await first.state.database.dispose()
        await second.state.database.dispose()


async def test_refusals_and_failures_of_inner_layers_are_counted(database: Database) -> None:
    # Given an app behind the observability middleware that answers 429, then fails
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["query_string"] == b"fail":
            raise RuntimeError("boom")
        await Response("slow down", status_code=429)(scope, receive, send)

    observability = Observability(database.engine, max_overflow=10, access_log=False)
    app = observability.middleware(inner)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        # When requests are refused by the rate limit, and one fails
        for _ in range(3):
            assert (await client.post("/graphql")).status_code == 429
        assert (await client.post("/graphql?fail")).status_code == 500

    # Then the refusals and the failure are counted
    registry = observability.metrics.registry
    assert registry.get_sample_value("salesgraph_rate_limited_total") == 3
    labels = {"operation": "none", "outcome": "rate_limited"}
    assert registry.get_sample_value("salesgraph_requests_total", labels) == 3
    labels = {"operation": "none", "outcome": "error"}
    assert registry.get_sample_value("salesgraph_requests_total", labels) == 1
    assert registry.get_sample_value("salesgraph_requests_in_flight") == 0


def test_operation_labels_are_bounded() -> None:
    labels = OperationLabels(limit=3)

    def label(name: str | None) -> str:
        return labels.label(RequestRecord(graphql=True, operation=name, workspace_id="w"))

    # Plain names are kept, up to the limit; anything else becomes "other"
    assert [label(name) for name in ("A", "B", "A", "C", "D", "B")] == [
        "A",
        "B",
        "A",
        "C",
        "other",
        "B",
    ]
    fresh = OperationLabels()
    for odd in ("x" * 65, "1abc", "with space", "dash-ed", "ünïcode", ""):
        assert fresh.label(RequestRecord(graphql=True, operation=odd, workspace_id="w")) == "other"
    assert fresh.label(RequestRecord(graphql=True, operation="x" * 64, workspace_id="w")) == (
        "x" * 64
    )
    # A request without a key names nothing: keyless clients cannot use the names up
    assert fresh.label(RequestRecord(graphql=True, operation="Sneaky")) == "other"
    assert fresh.label(RequestRecord(graphql=True, operation="Sneaky", workspace_id="w")) == (
        "Sneaky"
    )
    assert fresh.label(RequestRecord(graphql=True, operation=None)) == "anonymous"
    assert fresh.label(RequestRecord(graphql=False)) == "none"


# The access log


async def test_one_access_line_per_request_without_secrets(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a mutation with a key, variables and a request id of the client's
    caplog.set_level(logging.INFO)
    secret_title = "Classified-Title-4711"
    response = await api.client.post(
        "/graphql",
        json={"query": CREATE_LEAD, "variables": {"input": {"title": secret_title}}},
        headers={"authorization": f"Bearer {api.token}", "x-request-id": "req-abc-123"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["createLead"]["errors"] == []

    # Then one access line tells who did what, how it went and how long it took
    lines = [record for record in caplog.records if record.name == "salesgraph.access"]
    assert len(lines) == 1
    line: Any = lines[0]
    assert line.request_id == "req-abc-123" == response.headers["x-request-id"]
    assert line.operation == "CreateLead"
    assert line.operation_type == "mutation"
    assert line.workspace_id == str(api.workspace_id)
    assert (line.method, line.path, line.status, line.outcome) == ("POST", "/graphql", 200, "ok")
    assert isinstance(line.duration_ms, float)
    assert line.duration_ms > 0

    # and nothing logged during the request holds the key, the query or the variables
    formatted = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert api.token is not None
    assert api.token not in formatted
    assert api.token.split("_")[-1] not in formatted
    assert secret_title not in formatted
    assert "createLead(input" not in formatted


async def test_a_refused_request_is_logged_without_workspace(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await api.client.post(
        "/graphql",
        json={"query": "{ leads { totalCount } }"},
        headers={"authorization": "Bearer x"},
    )
    assert response.status_code == 401
    (line,) = [record for record in caplog.records if record.name == "salesgraph.access"]
    assert line.__dict__["outcome"] == "unauthenticated"
    assert line.__dict__["workspace_id"] is None
    assert line.__dict__["request_id"] == response.headers["x-request-id"]


def test_json_lines_carry_fields_and_exceptions_and_never_secrets() -> None:
    # Given a record that quotes a key, an Authorization header and a database password
    token = "sg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_secretpart"
    try:
        raise ValueError(f"cannot reach postgresql://sales:hunter2@db:5432/x with {token}")
    except ValueError:
        record = logging.getLogger("salesgraph.test").makeRecord(
            "salesgraph.test",
            logging.ERROR,
            __file__,
            1,
            "failed with Authorization: Bearer %s",
            (token,),
            sys.exc_info(),
            extra={"request_id": "r1", "workspace_id": "w1"},
        )

    # When it is formatted as JSON and as text
    line = JsonFormatter().format(record)
    text = TextFormatter().format(record)

    # Then the JSON line is one object with the fields
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "salesgraph.test"
    assert entry["request_id"] == "r1"
    assert entry["workspace_id"] == "w1"
    assert entry["time"].endswith("+00:00")
    assert "ValueError" in entry["exception"]
    # and neither format holds the secrets
    for output in (line, text):
        assert "secretpart" not in output
        assert "hunter2" not in output
        assert "[redacted]" in output


# Serving: JSON logs and graceful shutdown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve_log() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sg-serve-") as folder:
        yield Path(folder) / "serve.log"


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SALESGRAPH_")
    }
    environment.update(
        SALESGRAPH_DATABASE_URL=database_url,
        SALESGRAPH_LOG_FORMAT="json",
        SALESGRAPH_SHUTDOWN_TIMEOUT="20",
    )
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own console script
            [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )


def wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no healthy server:\n{log.read_text()}")


def read_response(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_serve_logs_json_and_drains_in_flight_requests_on_sigterm(
    database_url: str, database: Database, serve_log: Path
) -> None:
    _, token = await new_workspace(database)
    # The server is a subprocess driven with blocking sockets: off the event loop.
    await anyio.to_thread.run_sync(serve_and_stop, database_url, token, serve_log)


def serve_and_stop(database_url: str, token: str, serve_log: Path) -> None:
    # Given `salesgraph serve` with JSON logs, and a key
    port = free_port()
    process = start_server(database_url, port, serve_log)
    try:
        wait_until_healthy(process, port, serve_log)
        answered = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "query CountLeads { leads { totalCount } }"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert answered.status_code == 200
        refused = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": "query Typed($name: String!) { __type(name: $name) { name } }",
                "variables": {"name": ["Var-4711"]},
            },
        )
        assert "Var-4711" in refused.text  # the client is told what was wrong

        # and a request in flight: its headers and half of its body have arrived
        body = json.dumps({"query": "query InFlight { __typename }"}).encode()
        head = (
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=10)
        in_flight.sendall(head + body[:10])
        time.sleep(0.3)

        # When the server is asked to stop
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)

        # Then it takes no new connections
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        # but completes the request in flight
        in_flight.sendall(body[10:])
        response = read_response(in_flight)
        in_flight.close()
        assert response.startswith(b"HTTP/1.1 200"), response
        assert json.loads(response.partition(b"\r\n\r\n")[2])["data"] == {"__typename": "Query"}
        # and then exits as asked (uvicorn re-raises the signal once it has shut down)
        assert process.wait(timeout=20) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # And every log line is a JSON object; the access lines have what operators need
    entries = [json.loads(line) for line in serve_log.read_text().splitlines() if line.strip()]
    access = {e["operation"]: e for e in entries if e["logger"] == "salesgraph.access"}
    assert set(access) == {"CountLeads", "Typed", "InFlight"}
    assert access["Typed"]["outcome"] == "rejected"
    assert access["CountLeads"]["status"] == 200
    assert access["CountLeads"]["outcome"] == "ok"
    assert access["CountLeads"]["workspace_id"]
    assert access["CountLeads"]["request_id"] == answered.headers["x-request-id"]
    assert access["InFlight"]["outcome"] == "ok"
    assert access["InFlight"]["workspace_id"] is None  # public introspection: no key
    # and the shutdown was orderly: the lifespan ended after the request was answered
    messages = [e["message"] for e in entries]
    assert messages.index("Shutting down") < messages.index("Application shutdown complete.")
    assert entries.index(access["InFlight"]) < messages.index("Application shutdown complete.")
    # and uvicorn's own access log is off (ours replaces it)
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]
    # and neither the key nor a variable's value is anywhere
    assert token not in serve_log.read_text()
    assert "Var-4711" not in serve_log.read_text()
