"""Running Alembic from salesgraph: the only way the schema is created."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from salesgraph.db.engine import async_database_url
from salesgraph.settings import ConfigurationError


def migrations_dir() -> Path:
    """The repository's migrations/ folder (next to src/), or ./migrations in an image."""
    for candidate in (
        Path(__file__).resolve().parents[3] / "migrations",
        Path.cwd() / "migrations",
    ):
        if (candidate / "env.py").exists():
            return candidate
    raise ConfigurationError("cannot find the migrations/ folder; run from the project root")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if database_url is not None:
        async_database_url(database_url)  # validates the URL before Alembic sees it
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision` (blocking; call outside a running event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
