"""One Settings object, read from SALESGRAPH_* environment variables and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """Configuration that salesgraph cannot start with; the message is one line for the operator."""


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to `SALESGRAPH_<FIELD NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SALESGRAPH_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None,
        description="A postgresql:// URL. Unset: an embedded PostgreSQL kept in data_dir.",
    )
    app_database_url: str | None = Field(
        default=None,
        description=(
            "A postgresql:// URL for the server's requests: a login that owns no table and "
            "cannot bypass row-level security, e.g. a member of salesgraph_app. Unset: "
            "database_url, with every connection switched to the salesgraph_app role."
        ),
    )
    data_dir: Path = Field(
        default=Path(".salesgraph"),
        description="Folder of the embedded PostgreSQL's data (used when database_url is unset).",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    page_size_default: int = Field(default=20, ge=1, le=1000)
    page_size_max: int = Field(default=100, ge=1, le=1000)
    query_max_depth: int = Field(default=12, ge=2, le=100, description="Deepest field nesting.")
    query_max_aliases: int = Field(default=20, ge=0, le=1000, description="Aliases per query.")
    query_max_tokens: int = Field(default=3000, ge=100, le=100_000, description="Query size.")
    query_max_bytes: int = Field(
        default=100_000, ge=1000, le=10_000_000, description="Longest query document, in bytes."
    )
    query_max_directives: int = Field(
        default=50, ge=0, le=1000, description="Directives (@include, …) per query document."
    )
    query_max_cost: int = Field(
        default=20_000,
        ge=1,
        le=10_000_000,
        description="Most a query may cost: about the number of objects it can return "
        "(a list field counts its page size times its items).",
    )
    rate_limit_points_per_minute: int = Field(
        default=100_000,
        ge=0,
        le=100_000_000,
        description="Query cost points each API key may spend per minute (also its burst), "
        "per server process; 0 turns rate limiting off.",
    )
    introspection: bool = Field(
        default=True,
        description="Answer __schema/__type queries; off also removes 'Did you mean' hints.",
    )
    public_introspection: bool = Field(
        default=True,
        description="Allow introspection-only requests without an API key (GraphiQL's docs).",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How long an Idempotency-Key's response is kept."
    )
    idempotency_key_max_length: int = Field(
        default=255, ge=1, le=255, description="Longest Idempotency-Key header accepted."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest /graphql request body; a larger one gets 413 (checked while reading).",
    )
    request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a /graphql request may take before it ends with 504 and TIMEOUT.",
    )
    statement_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        le=3_600_000,
        description="PostgreSQL statement_timeout set in every transaction of the server (SET "
        "LOCAL); a statement cancelled by it ends with a TIMEOUT error. 0: no limit.",
    )
    persisted_query_cache_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Automatic persisted queries kept per process (least recently used dropped).",
    )
    persisted_queries_only: bool = Field(
        default=False,
        description="Allow-list mode: only the operations of persisted_queries_file run.",
    )
    persisted_queries_file: Path | None = Field(
        default=None,
        description="Registered operations: a JSON {sha256: query} or an Apollo PQ manifest.",
    )
    log_level: str = Field(default="INFO")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per line (for log collectors); `text`: for people.",
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per /graphql request (replaces uvicorn's access log).",
    )
    database_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds to wait for a new database connection before the request fails.",
    )
    database_pool_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a request waits for a free pooled connection before it fails.",
    )
    shutdown_timeout: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="Seconds in-flight requests get to finish after SIGTERM before they are cut.",
    )

    @field_validator("database_url", "app_database_url")
    @classmethod
    def _postgresql_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError(f"must be a postgresql:// URL, got scheme {scheme!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level


def load_settings() -> Settings:
    """Read settings from the environment, turning a validation failure into one clear line."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"SALESGRAPH_{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    if settings.page_size_default > settings.page_size_max:
        raise ConfigurationError(
            "invalid configuration: SALESGRAPH_PAGE_SIZE_DEFAULT exceeds SALESGRAPH_PAGE_SIZE_MAX"
        )
    if 0 < settings.rate_limit_points_per_minute < settings.query_max_cost:
        raise ConfigurationError(
            "invalid configuration: SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE is below "
            "SALESGRAPH_QUERY_MAX_COST: one query could cost more than a whole minute's budget"
        )
    return settings
