"""The async engine and its sessionmaker, built from settings by the application's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from salesgraph.db.tenancy import ALL_WORKSPACES_KEY
from salesgraph.settings import ConfigurationError, Settings

# The role the server's requests run as: it owns no table and cannot bypass row-level security
# (created and granted by migration 0004; see salesgraph.db.tenancy).
APP_ROLE: Final = "salesgraph_app"


def async_database_url(url: str) -> URL:
    """Turn a postgresql:// URL into the asyncpg dialect's URL."""
    try:
        parsed = make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError with the URL inside; keep it out
        raise ConfigurationError(
            "invalid configuration: the database URL cannot be parsed"
        ) from error
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise ConfigurationError("invalid configuration: the database URL must be postgresql://")
    return parsed.set(drivername="postgresql+asyncpg")


@dataclass(frozen=True, slots=True)
class Database:
    """An engine and the sessionmaker bound to it."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    connect_timeout: float = 60.0,
    role: str | None = None,
    all_workspaces: bool = False,
) -> Database:
    """An engine and its sessionmaker.

    `role`: every connection runs as this role from its start (a startup setting, so even RESET
    ROLE comes back to it); the login must be a member of it. `all_workspaces`: unscoped sessions
    may reach every workspace's rows, for the owner's maintenance (the command line, seeding);
    the policy that allows it names the owner only (salesgraph.db.tenancy).
    """
    engine = create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_timeout=pool_timeout,
        connect_args={
            "server_settings": _server_settings(role),
            "timeout": connect_timeout,
        },
    )
    # Instead of a pre-ping (three round trips per checkout), drop pooled connections that the
    # server has already closed (a restart, a terminated backend): costs nothing, and the first
    # request after the database returns gets a fresh connection instead of an error.
    event.listen(engine.sync_engine, "checkout", _discard_closed_connection)
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(
            engine,
            expire_on_commit=False,
            autoflush=False,
            info={ALL_WORKSPACES_KEY: True} if all_workspaces else None,
        ),
    )


def _discard_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout hook: a connection the server closed is replaced by a new one."""
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


def _server_settings(role: str | None) -> dict[str, str]:
    settings = {"timezone": "UTC", "application_name": "salesgraph"}
    if role is not None:
        settings["role"] = role
    return settings


def server_connection(settings: Settings, database_url: str) -> tuple[str, str | None]:
    """How the server's requests connect: (URL, role to switch to), never as the tables' owner.

    With SALESGRAPH_APP_DATABASE_URL, its own login (a member of salesgraph_app, or any role
    that owns no table and cannot bypass row-level security). Otherwise the owner's URL
    (`database_url`, which migrates and seeds), each connection switched to salesgraph_app as it
    opens.
    """
    if settings.app_database_url is not None:
        return settings.app_database_url, None
    return database_url, APP_ROLE
