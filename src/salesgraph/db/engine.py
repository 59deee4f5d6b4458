"""The async engine and its sessionmaker, built from settings by the application's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from salesgraph.settings import ConfigurationError


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


def create_database(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
    engine = create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "salesgraph"}},
    )
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
    )
