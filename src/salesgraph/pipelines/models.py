"""Tables of the pipeline domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped


class PipelineTemplate(enum.StrEnum):
    """Where a pipeline's stages came from."""

    SEVEN_STAGE = "SEVEN_STAGE"
    FIVE_STAGE = "FIVE_STAGE"
    NINE_STAGE = "NINE_STAGE"
    CUSTOM = "CUSTOM"


class Pipeline(TenantScoped, Timestamped, Base):
    """A repeatable template of stages that leads move through."""

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(200))
    template: Mapped[PipelineTemplate] = mapped_column(
        Enum(PipelineTemplate, name="pipeline_template")
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    archived_at: Mapped[datetime | None] = mapped_column()

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )


class Stage(TenantScoped, Timestamped, Base):
    """One step of a pipeline. History refers to stages by id, so renaming rewrites nothing."""

    __tablename__ = "stages"

    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column()
    win_probability: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    target_days: Mapped[int | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "pipeline_id"],
            ["pipelines.workspace_id", "pipelines.id"],
            ondelete="CASCADE",
        ),
        # Lets leads reference (pipeline, stage) together, so a lead's stage is always in its
        # pipeline.
        UniqueConstraint("workspace_id", "pipeline_id", "id"),
        UniqueConstraint(
            "workspace_id", "pipeline_id", "position", deferrable=True, initially="DEFERRED"
        ),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("win_probability BETWEEN 0 AND 1", name="win_probability_range"),
        CheckConstraint("target_days IS NULL OR target_days > 0", name="target_days_positive"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        Index(
            "uq_stages_active_name",
            "workspace_id",
            "pipeline_id",
            text("lower(name)"),
            unique=True,
            postgresql_where=text("archived_at IS NULL"),
        ),
    )
