"""The ASGI application. Nothing is built at import time: create_app builds it (with its
database engine, which connects lazily) from settings, and its lifespan disposes of the engine.

Beside /graphql: /healthz (the process serves), /readyz (the database answers and its migrations
are current) and /metrics (Prometheus). The observability middleware wraps everything, so the
metrics and access log see every /graphql response, including those of inner middlewares."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from salesgraph.db import migrations
from salesgraph.db.engine import Database, create_database, server_connection
from salesgraph.graphql.schema import QueryLimits, build_schema
from salesgraph.graphql.view import GraphQLView
from salesgraph.http.idempotency import IdempotencyMiddleware
from salesgraph.observability import Observability, ObserveOperation
from salesgraph.settings import Settings


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The application, serving GraphQL at /graphql with /healthz, /readyz and /metrics."""
    # Requests run as the application role, bound by row-level security (db/tenancy.py);
    # `database_url` is the owner's, which migrates and seeds.
    url, role = server_connection(settings, database_url)
    database: Database = create_database(
        url,
        role=role,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        connect_timeout=settings.database_connect_timeout,
    )
    limits = QueryLimits.from_settings(settings)
    schema = build_schema(limits)
    # Each app builds its own schema: the extension that tells the access log and the metrics
    # each request's operation, errors and workspace is added to this app's schema only.
    schema.extensions = (*schema.extensions, ObserveOperation)
    observability = Observability(
        database.engine,
        max_overflow=settings.database_max_overflow,
        access_log=settings.access_log,
    )
    view = GraphQLView(schema, settings=settings, database=database)
    expected_revision = migrations.head_revision()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            # Bounded: a probe must get an answer even when the database host is unreachable.
            async with asyncio.timeout(settings.database_connect_timeout + 1):
                async with database.engine.connect() as connection:
                    revision = await connection.scalar(
                        text("SELECT version_num FROM alembic_version")
                    )
        except Exception:  # any failure to reach the database means not ready
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        if revision != expected_revision:
            return JSONResponse(
                {"status": "unavailable", "database": "migrations pending"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", IdempotencyMiddleware(view, database=database, settings=settings)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", observability.metrics_endpoint, methods=["GET"]),
        ],
        middleware=[Middleware(observability.middleware)],
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.observability = observability
    return app
