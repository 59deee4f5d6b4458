"""Tables of the activity domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Computed,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped, WorkspaceScoped


class ActivityType(enum.StrEnum):
    """What kind of work an activity is."""

    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    DEMO = "DEMO"
    MESSAGE = "MESSAGE"
    CHAT = "CHAT"
    NOTE = "NOTE"
    TASK = "TASK"
    GIFT = "GIFT"
    TRIAL = "TRIAL"
    QUOTE = "QUOTE"
    OTHER = "OTHER"


class ActivityStatus(enum.StrEnum):
    """Whether an activity is still to do, done, or called off."""

    PLANNED = "PLANNED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class Direction(enum.StrEnum):
    """Who reached out: the customer (inbound) or we (outbound)."""

    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class Outcome(enum.StrEnum):
    """How a completed activity went."""

    POSITIVE = "POSITIVE"
    NEUTRAL = "NEUTRAL"
    NEGATIVE = "NEGATIVE"
    NO_RESPONSE = "NO_RESPONSE"


class ApproachMethod(enum.StrEnum):
    """How a presentation opened."""

    GIFT = "GIFT"
    QUESTION = "QUESTION"
    PRODUCT_TRIAL = "PRODUCT_TRIAL"


class ClosingTechnique(enum.StrEnum):
    """How a close was attempted."""

    ALTERNATIVE_CHOICE = "ALTERNATIVE_CHOICE"
    INCENTIVE = "INCENTIVE"
    URGENCY = "URGENCY"


MAX_DURATION_SECONDS = 7 * 24 * 3600

# A rejection: completed work with a NEGATIVE outcome (the persistence metrics find the first).
REJECTION_CONDITION = "status = 'COMPLETED' AND deleted_at IS NULL AND outcome = 'NEGATIVE'"
# Completed work that used an approach method or a closing technique.
TECHNIQUE_CONDITION = (
    "status = 'COMPLETED' AND deleted_at IS NULL"
    " AND (approach_method IS NOT NULL OR closing_technique IS NOT NULL)"
)
# A touch of the customer: completed outbound contact (the persistence metrics count them).
TOUCH_CONDITION = (
    "status = 'COMPLETED' AND deleted_at IS NULL AND direction = 'OUTBOUND'"
    " AND type IN ('CALL', 'EMAIL', 'MEETING', 'DEMO', 'MESSAGE', 'CHAT')"
)


class Activity(TenantScoped, Timestamped, Base):
    """A piece of work on a lead: done (COMPLETED), to do (PLANNED) or called off (CANCELED).

    A completed activity records the stage the lead was in when it happened (from the stage
    history, so a backfilled activity gets the stage of its time). A planned one records when
    it is due and who is to do it; `cadence_step` is set when the follow-up cadence planned it.
    """

    __tablename__ = "activities"

    lead_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[ActivityType] = mapped_column(Enum(ActivityType, name="activity_type"))
    status: Mapped[ActivityStatus] = mapped_column(Enum(ActivityStatus, name="activity_status"))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[Direction | None] = mapped_column(Enum(Direction, name="direction"))
    due_at: Mapped[datetime | None] = mapped_column()
    occurred_at: Mapped[datetime | None] = mapped_column()
    # When it happened, or else when it is (was) due: the time lists sort by.
    at: Mapped[datetime] = mapped_column(Computed("COALESCE(occurred_at, due_at)", persisted=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, name="activity_outcome"))
    approach_method: Mapped[ApproachMethod | None] = mapped_column(
        Enum(ApproachMethod, name="approach_method")
    )
    closing_technique: Mapped[ClosingTechnique | None] = mapped_column(
        Enum(ClosingTechnique, name="closing_technique")
    )
    pipeline_id: Mapped[uuid.UUID | None] = mapped_column()
    stage_id: Mapped[uuid.UUID | None] = mapped_column()
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    cadence_step: Mapped[int | None] = mapped_column(SmallInteger)
    created_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    completed_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    completed_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    canceled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
        ),
        ForeignKeyConstraint(
            ["workspace_id", "assignee_id"], ["members.workspace_id", "members.id"]
        ),
        CheckConstraint(
            "status <> 'PLANNED' OR (due_at IS NOT NULL AND occurred_at IS NULL "
            "AND outcome IS NULL AND stage_id IS NULL)",
            name="planned_shape",
        ),
        CheckConstraint(
            "status <> 'COMPLETED' OR (occurred_at IS NOT NULL AND stage_id IS NOT NULL)",
            name="completed_shape",
        ),
        CheckConstraint(
            "(status = 'CANCELED') = (canceled_at IS NOT NULL) "
            "AND (status <> 'CANCELED' OR (occurred_at IS NULL AND outcome IS NULL))",
            name="canceled_shape",
        ),
        CheckConstraint(
            f"duration_seconds IS NULL OR duration_seconds BETWEEN 0 AND {MAX_DURATION_SECONDS}",
            name="duration_range",
        ),
        CheckConstraint("cadence_step IS NULL OR cadence_step BETWEEN 1 AND 50", name="step"),
        Index("ix_activities_lead", "workspace_id", "lead_id", "at", "id"),
        Index(
            "ix_activities_agenda",
            "workspace_id",
            "assignee_id",
            "due_at",
            "id",
            postgresql_where=text("status = 'PLANNED' AND deleted_at IS NULL"),
        ),
        Index(
            "ix_activities_due",
            "workspace_id",
            "due_at",
            "id",
            postgresql_where=text("status = 'PLANNED' AND deleted_at IS NULL"),
        ),
        # Covering: the metrics of completed work read only this index.
        Index(
            "ix_activities_completed",
            "workspace_id",
            "pipeline_id",
            "occurred_at",
            postgresql_include=[
                "stage_id",
                "lead_id",
                "type",
                "outcome",
                "duration_seconds",
                "completed_by_member_id",
            ],
            postgresql_where=text("status = 'COMPLETED' AND deleted_at IS NULL"),
        ),
        # Each lead's completed work by time: its latest before an instant, in one probe.
        Index(
            "ix_activities_lead_done",
            "workspace_id",
            "lead_id",
            "occurred_at",
            postgresql_where=text("status = 'COMPLETED' AND deleted_at IS NULL"),
        ),
        # The few activities with an approach method or closing technique.
        Index(
            "ix_activities_techniques",
            "workspace_id",
            "pipeline_id",
            "occurred_at",
            postgresql_include=["stage_id", "lead_id", "approach_method", "closing_technique"],
            postgresql_where=text(TECHNIQUE_CONDITION),
        ),
        # A lead's touches and rejections, counted by the persistence metrics.
        Index(
            "ix_activities_touches",
            "workspace_id",
            "lead_id",
            "occurred_at",
            postgresql_where=text(TOUCH_CONDITION),
        ),
        Index(
            "ix_activities_rejections",
            "workspace_id",
            "lead_id",
            "occurred_at",
            postgresql_where=text(REJECTION_CONDITION),
        ),
        Index(
            "uq_activities_external_id",
            "workspace_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )


DEFAULT_MAX_TOUCHES = 5
DEFAULT_INTERVALS_DAYS = (2, 3, 5, 7)


class FollowUpCadence(WorkspaceScoped, Base):
    """The workspace's follow-up rule: how many outbound touches, how many days apart.

    A workspace without a row uses the defaults (5 touches, 2, 3, 5 and 7 days apart).
    """

    __tablename__ = "follow_up_cadences"

    enabled: Mapped[bool] = mapped_column(server_default="true")
    max_touches: Mapped[int] = mapped_column(SmallInteger, server_default=str(DEFAULT_MAX_TOUCHES))
    intervals_days: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default="{" + ",".join(map(str, DEFAULT_INTERVALS_DAYS)) + "}"
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        CheckConstraint("max_touches BETWEEN 1 AND 20", name="max_touches_range"),
        CheckConstraint(
            "cardinality(intervals_days) = max_touches - 1", name="one_interval_per_gap"
        ),
    )
