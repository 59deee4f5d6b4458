"""Declarative base with a constraint naming convention, and the mixins every table uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import DateTime, MetaData, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from salesgraph.db.ids import uuid7

# A column to filter or sort by: a mapped attribute (Lead.title) or any SQL expression.
SqlColumn: TypeAlias = ColumnElement[Any] | QueryableAttribute[Any]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mapped class."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
    }
    # Server-side defaults (timestamps, versions) come back in INSERT/UPDATE ... RETURNING, so
    # reading them after a flush never needs another query.
    __mapper_args__ = {"eager_defaults": True}


class WorkspaceScoped:
    """A row that belongs to exactly one workspace.

    `workspace_id` leads the primary key, every unique constraint and every foreign key between
    tenant tables, so the schema can be distributed by workspace and a row can never point into
    another workspace. Sessions opened for a workspace filter every ORM statement on these
    tables by it (salesgraph.db.tenancy).
    """

    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class TenantScoped(WorkspaceScoped):
    """A workspace's object with its own id: primary key `(workspace_id, id)`."""

    # Declared again so that it comes first in the table, and so in the primary key.
    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class Timestamped:
    """Creation and last-update times, set by the database clock in UTC."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
