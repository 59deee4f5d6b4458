"""One Settings object, read from SALESGRAPH_* environment variables and passed down explicitly."""

from __future__ import annotations

from pathlib import Path

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
    public_introspection: bool = Field(
        default=True,
        description="Allow introspection-only requests without an API key (GraphiQL's docs).",
    )
    log_level: str = Field(default="INFO")

    @field_validator("database_url")
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
    return settings
