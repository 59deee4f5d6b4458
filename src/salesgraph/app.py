"""The ASGI application. Nothing is built at import time: create_app builds it (with its
database engine, which connects lazily) from settings, and its lifespan disposes of the engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from salesgraph.db import migrations
from salesgraph.db.engine import Database, create_database
from salesgraph.graphql.schema import QueryLimits, build_schema
from salesgraph.graphql.view import GraphQLView
from salesgraph.settings import Settings


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The application, serving GraphQL at /graphql with /healthz and /readyz beside it."""
    database: Database = create_database(
        database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    limits = QueryLimits(
        max_depth=settings.query_max_depth,
        max_aliases=settings.query_max_aliases,
        max_tokens=settings.query_max_tokens,
    )
    schema = build_schema(limits)
    view = GraphQLView(schema, settings=settings, database=database)
    expected_revision = migrations.head_revision()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with database.engine.connect() as connection:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
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
            Route("/graphql", view),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.database = database
    return app
