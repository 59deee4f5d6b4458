"""What the service tells its operators: Prometheus metrics, access logs and JSON log lines.

One `Observability` per application (each with its own CollectorRegistry, so several apps in one
process never share counters). Its ASGI middleware sits outermost around the app and watches
every /graphql request: status, duration and, through a schema extension that reads what
strawberry already parsed, the operation's name and type, whether GraphQL reported errors and
the caller's workspace. No request body is parsed again, and neither the query text, the
variables nor any header other than the request id is ever logged or used as a label.
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

access_logger = logging.getLogger("salesgraph.access")

# No `<counter>_created` series beside every counter and histogram: they double the series a
# scrape returns and nothing here reads them. (A process-wide switch of prometheus_client.)
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

REQUEST_ID_HEADER = b"x-request-id"
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Outcome = Literal["ok", "errors", "rejected", "unauthenticated", "rate_limited", "error"]


# --- what one request did -------------------------------------------------------------------


@dataclass(slots=True)
class RequestRecord:
    """Filled in while a /graphql request runs: by the schema extension, then the middleware."""

    graphql: bool = False  # the document reached strawberry
    executed: bool = False  # it passed parsing and validation, and execution began
    errors: bool = False  # the result carries top-level GraphQL errors
    refused: bool = False  # ... about the request itself: nothing ran
    operation: str | None = None
    operation_type: str | None = None
    workspace_id: str | None = None


_current_request: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "salesgraph_request_record", default=None
)


class ObserveOperation(SchemaExtension):
    """Notes the operation's name, type, errors and workspace for the access log and metrics."""

    def on_execute(self) -> Iterator[None]:
        record = _current_request.get()
        if record is not None:
            record.executed = True
        yield

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:  # also when another extension's hook raised through this one
            try:
                self._note()
            except Exception:  # observing must never break a request
                logging.getLogger(__name__).exception("cannot observe the operation")

    def _note(self) -> None:
        record = _current_request.get()
        if record is None:
            return
        context = self.execution_context
        record.graphql = True
        record.operation = context.operation_name
        if context.graphql_document is not None:
            try:
                record.operation_type = context.operation_type.value
            except RuntimeError:  # no operation of that name in the document
                record.operation_type = None
        result = context.result
        errors = (
            (result.errors if result is not None else None) or context.pre_execution_errors or []
        )
        record.errors = bool(errors)
        # Refused: before execution (syntax, validation, limits), or at its start (variables
        # that do not fit their types: errors without a path, and no data at all).
        record.refused = bool(errors) and (
            not record.executed
            or (result is not None and result.data is None and all(e.path is None for e in errors))
        )
        principal = getattr(context.context, "principal_or_none", None)
        if principal is not None:
            record.workspace_id = str(principal.workspace_id)


def outcome_of(status: int, record: RequestRecord) -> Outcome:
    """The outcome label of a finished /graphql request."""
    if status == 429:
        return "rate_limited"
    if status == 401:
        return "unauthenticated"
    if status >= 500:
        return "error"
    if status >= 400:
        return "rejected"
    if record.errors:
        return "rejected" if record.refused else "errors"
    return "ok"


class OperationLabels:
    """Operation names as metric labels, with bounded cardinality.

    A name that is not a plain GraphQL name of at most 64 characters, any new name once `limit`
    distinct names have been seen, and any name of a request without an API key (so that no
    anonymous client can use the names up) becomes "other". An unnamed operation is "anonymous";
    a request that never reached GraphQL (no valid key, a malformed body, the GraphiQL page) is
    "none".
    """

    def __init__(self, limit: int = MAX_OPERATION_NAMES):
        self._limit = limit
        self._known: set[str] = set()

    def label(self, record: RequestRecord) -> str:
        if not record.graphql:
            return "none"
        name = record.operation
        if name is None:
            return "anonymous"
        if record.workspace_id is None:
            return "other"
        if name in self._known:
            return name
        if len(self._known) >= self._limit or not OPERATION_NAME.fullmatch(name):
            return "other"
        self._known.add(name)
        return name


# --- metrics --------------------------------------------------------------------------------


class PoolCollector:
    """The database pool's state, read from SQLAlchemy's pool at scrape time."""

    def __init__(self, engine: AsyncEngine, max_overflow: int):
        self._engine = engine
        self._max_overflow = max_overflow

    def collect(self) -> Iterable[Metric]:
        pool = self._engine.sync_engine.pool  # read each time: dispose() replaces the pool
        if not isinstance(pool, QueuePool):
            return
        families = (
            ("salesgraph_db_pool_size", "Connections the pool keeps open.", pool.size()),
            (
                "salesgraph_db_pool_max_overflow",
                "Connections the pool may open beyond its size under load.",
                self._max_overflow,
            ),
            (
                "salesgraph_db_pool_checked_out",
                "Pooled connections in use by requests now.",
                pool.checkedout(),
            ),
            (
                "salesgraph_db_pool_checked_in",
                "Open pooled connections that are idle now.",
                pool.checkedin(),
            ),
            (
                "salesgraph_db_pool_overflow",
                "Connections open beyond the pool's size now.",
                max(0, pool.overflow()),
            ),
        )
        for name, documentation, value in families:
            yield GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    """salesgraph's metrics in their own registry."""

    def __init__(self, engine: AsyncEngine, *, max_overflow: int):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "salesgraph_requests",
            "GraphQL requests by operation name and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "salesgraph_request_duration_seconds",
            "Time from a GraphQL request's arrival to its response's last byte.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "salesgraph_requests_in_flight",
            "GraphQL requests being served now.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "salesgraph_rate_limited",
            "GraphQL requests refused with HTTP 429 (rate limit).",
            registry=self.registry,
        )
        self.registry.register(PoolCollector(engine, max_overflow))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def observe(self, operation: str, outcome: Outcome, duration: float) -> None:
        self.requests.labels(operation, outcome).inc()
        self.duration.labels(operation).observe(duration)
        if outcome == "rate_limited":
            self.rate_limited.inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text by default)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


# --- the middleware -------------------------------------------------------------------------


class Observability:
    """Metrics and access logs of one application."""

    def __init__(
        self, engine: AsyncEngine, *, max_overflow: int, access_log: bool, path: str = "/graphql"
    ):
        self.metrics = Metrics(engine, max_overflow=max_overflow)
        self.operations = OperationLabels()
        self.access_log = access_log
        self.path = path

    async def metrics_endpoint(self, request: Request) -> Response:
        body, content_type = self.metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type})

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap `app`: requests to the GraphQL path are measured and logged."""

        async def observe(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != self.path:
                await app(scope, receive, send)
                return
            await self._observe(app, scope, receive, send)

        return observe

    async def _observe(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        record = RequestRecord()
        state = scope.setdefault("state", {})  # the view puts the request id here
        status = 500  # unless a response starts: the app failed
        request_id: str | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == REQUEST_ID_HEADER:
                        request_id = value.decode("latin-1")
            await send(message)

        token = _current_request.set(record)
        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await app(scope, receive, send_and_watch)
        finally:
            duration = time.perf_counter() - started
            self.metrics.in_flight.dec()
            _current_request.reset(token)
            operation = self.operations.label(record)
            outcome = outcome_of(status, record)
            # The log is not a label set: it keeps any plain name, also of keyless requests.
            logged_operation = (
                record.operation
                if operation == "other"
                and record.operation is not None
                and OPERATION_NAME.fullmatch(record.operation)
                else operation
            )
            self.metrics.observe(operation, outcome, duration)
            if self.access_log:
                self._log(
                    scope,
                    record,
                    request_id=request_id or state.get("request_id"),
                    operation=logged_operation,
                    status=status,
                    outcome=outcome,
                    duration=duration,
                )

    def _log(
        self,
        scope: Scope,
        record: RequestRecord,
        *,
        request_id: str | None,
        operation: str,
        status: int,
        outcome: Outcome,
        duration: float,
    ) -> None:
        duration_ms = round(duration * 1000, 1)
        access_logger.info(
            "%s %s %s %s %s %.1fms",
            scope["method"],
            scope["path"],
            operation,
            status,
            outcome,
            duration_ms,
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "operation": operation,
                "operation_type": record.operation_type,
                "status": status,
                "outcome": outcome,
                "duration_ms": duration_ms,
                "workspace_id": record.workspace_id,
            },
        )


# --- logging --------------------------------------------------------------------------------

# Defense in depth: whatever a message or a traceback quotes, these never reach the log.
_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",]+"), r"\1[redacted]"),
    (re.compile(r"\bsg_[A-Za-z0-9_\-]{8,}"), "sg_[redacted]"),
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s]+@"), r"\1[redacted]@"),
)

# The standard attributes of a record, and uvicorn's copy of its message with terminal colours.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extra fields and,
    for an error, the exception's traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, plus request id and workspace on access lines, for people."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.name == access_logger.name:
            for key in ("request_id", "workspace_id"):
                value = getattr(record, key, None)
                if value:
                    line += f" {key}={value}"
        return redact(line)


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    """Send every logger's records (uvicorn's included) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # strawberry logs every GraphQL error at ERROR, clients' mistakes included, and their
    # messages may quote variable values. The access log counts them; salesgraph.errors logs
    # the unexpected ones, with the request id and the traceback.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)


__all__ = [
    "JsonFormatter",
    "Metrics",
    "Observability",
    "ObserveOperation",
    "OperationLabels",
    "RequestRecord",
    "TextFormatter",
    "configure_logging",
    "outcome_of",
    "redact",
]
