"""Tables of the objection domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKeyConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped


class ObjectionCategory(enum.StrEnum):
    """What a customer objects to."""

    PRICE = "PRICE"
    NEED = "NEED"
    TIMING = "TIMING"
    AUTHORITY = "AUTHORITY"
    COMPETITOR = "COMPETITOR"
    TRUST = "TRUST"
    OTHER = "OTHER"


class ObjectionStatus(enum.StrEnum):
    """Where an objection stands."""

    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    UNRESOLVED = "UNRESOLVED"


_category = Enum(ObjectionCategory, name="objection_category")


class ObjectionResponse(TenantScoped, Timestamped, Base):
    """A suggested answer to a category of objection, from the workspace's library."""

    __tablename__ = "objection_responses"

    category: Mapped[ObjectionCategory] = mapped_column(_category)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
        CheckConstraint("length(btrim(text)) > 0", name="text_not_blank"),
        Index("ix_objection_responses_category", "workspace_id", "category"),
    )


class Objection(TenantScoped, Timestamped, Base):
    """A customer's objection on a lead, at the stage the lead was in, and how it was met.

    `settled_at` is when it was marked RESOLVED or UNRESOLVED; for a RESOLVED objection,
    settled_at - raised_at is its time to resolution.
    """

    __tablename__ = "objections"

    lead_id: Mapped[uuid.UUID] = mapped_column()
    category: Mapped[ObjectionCategory] = mapped_column(_category)
    customer_words: Mapped[str] = mapped_column(Text)
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    raised_at: Mapped[datetime] = mapped_column()
    raised_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    raised_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[ObjectionStatus] = mapped_column(
        Enum(ObjectionStatus, name="objection_status"), server_default="OPEN"
    )
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column()
    response_id: Mapped[uuid.UUID | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    settled_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    settled_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
        ),
        ForeignKeyConstraint(
            ["workspace_id", "response_id"],
            ["objection_responses.workspace_id", "objection_responses.id"],
        ),
        CheckConstraint("length(btrim(customer_words)) > 0", name="words_not_blank"),
        CheckConstraint("(status = 'OPEN') = (settled_at IS NULL)", name="settled_matches_status"),
        CheckConstraint("settled_at IS NULL OR settled_at >= raised_at", name="settled_after"),
        CheckConstraint(
            "responded_at IS NULL OR responded_at >= raised_at", name="responded_after"
        ),
        Index("ix_objections_lead", "workspace_id", "lead_id", "raised_at", "id"),
        Index("ix_objections_raised", "workspace_id", "raised_at", "id"),
        Index("ix_objections_pipeline_raised", "workspace_id", "pipeline_id", "raised_at"),
        Index("ix_objections_response", "workspace_id", "response_id"),
        Index(
            "ix_objections_open",
            "workspace_id",
            "lead_id",
            postgresql_where=text("status = 'OPEN'"),
        ),
    )
