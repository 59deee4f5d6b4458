"""Tables of the lead domain."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    Double,
    Enum,
    ForeignKeyConstraint,
    Index,
    Interval,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped, WorkspaceScoped


class LeadStatus(enum.StrEnum):
    """Where a lead stands overall."""

    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class Qualification(enum.StrEnum):
    """The answer to one qualification question (need, budget, authority, timing)."""

    UNKNOWN = "UNKNOWN"
    MET = "MET"
    NOT_MET = "NOT_MET"


class VisitEntry(enum.StrEnum):
    """How a lead came into a stage."""

    CREATED = "CREATED"
    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"
    REOPENED = "REOPENED"


class VisitExit(enum.StrEnum):
    """How a lead left a stage."""

    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"
    WON = "WON"
    LOST = "LOST"


_qualification = Enum(Qualification, name="qualification")


class Lead(TenantScoped, Timestamped, Base):
    """A potential customer moving through a pipeline."""

    __tablename__ = "leads"

    title: Mapped[str] = mapped_column(String(300))
    company_name: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    source: Mapped[str | None] = mapped_column(String(100))
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    stage_entered_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    value_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    value_currency: Mapped[str | None] = mapped_column(String(3))
    need: Mapped[Qualification] = mapped_column(_qualification, server_default="UNKNOWN")
    budget: Mapped[Qualification] = mapped_column(_qualification, server_default="UNKNOWN")
    authority: Mapped[Qualification] = mapped_column(_qualification, server_default="UNKNOWN")
    timing: Mapped[Qualification] = mapped_column(_qualification, server_default="UNKNOWN")
    score: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[LeadStatus] = mapped_column(
        Enum(LeadStatus, name="lead_status"), server_default="OPEN"
    )
    lost_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()
    # The owner's estimate of when the lead will close: forecasts group open value by its month.
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    referred_by_id: Mapped[uuid.UUID | None] = mapped_column()
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    deleted_at: Mapped[datetime | None] = mapped_column()
    # Kept by the activity service in the transaction of every activity change: the earliest
    # due time of its planned activities and the latest time of its completed ones.
    next_follow_up_at: Mapped[datetime | None] = mapped_column()
    last_activity_at: Mapped[datetime | None] = mapped_column()
    cadence_paused_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
        ),
        ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
        ForeignKeyConstraint(["workspace_id", "team_id"], ["teams.workspace_id", "teams.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "referred_by_id"], ["leads.workspace_id", "leads.id"]
        ),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
        CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="score_range"),
        CheckConstraint(
            "(value_amount IS NULL) = (value_currency IS NULL)", name="value_has_currency"
        ),
        CheckConstraint("value_amount IS NULL OR value_amount >= 0", name="value_not_negative"),
        CheckConstraint("(status = 'OPEN') = (closed_at IS NULL)", name="closed_at_matches_status"),
        CheckConstraint("status = 'LOST' OR lost_reason IS NULL", name="lost_reason_when_lost"),
        CheckConstraint("referred_by_id IS NULL OR referred_by_id <> id", name="not_self_referred"),
        CheckConstraint("jsonb_typeof(custom_fields) = 'object'", name="custom_fields_object"),
        Index("ix_leads_board", "workspace_id", "stage_id", "created_at", "id"),
        Index("ix_leads_created", "workspace_id", "created_at", "id"),
        Index("ix_leads_updated", "workspace_id", "updated_at", "id"),
        Index("ix_leads_owner", "workspace_id", "owner_id"),
        Index("ix_leads_pipeline_status", "workspace_id", "pipeline_id", "status"),
        Index("ix_leads_referred_by", "workspace_id", "referred_by_id"),
        Index("ix_leads_next_follow_up", "workspace_id", "next_follow_up_at", "id"),
        Index("ix_leads_last_activity", "workspace_id", "last_activity_at", "id"),
        Index("ix_leads_expected_close", "workspace_id", "expected_close_date", "id"),
        Index(
            "ix_leads_deleted",
            "workspace_id",
            "id",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        Index(
            "ix_leads_closed",
            "workspace_id",
            "pipeline_id",
            "closed_at",
            postgresql_where=text("closed_at IS NOT NULL"),
        ),
        # Leads created in a metric window, counted (per owner) from the index alone.
        Index(
            "ix_leads_pipeline_created",
            "workspace_id",
            "pipeline_id",
            "created_at",
            postgresql_include=["owner_id"],
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class StageVisit(TenantScoped, Base):
    """One stay of a lead in a stage: append-only history that metrics are computed from.

    A visit is inserted when the lead enters the stage and closed once, when it leaves; a
    trigger refuses any other change and every delete. An open lead has exactly one open
    visit; a won or lost lead has none.
    """

    __tablename__ = "stage_visits"

    lead_id: Mapped[uuid.UUID] = mapped_column()
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    stage_position: Mapped[int] = mapped_column()
    entered_at: Mapped[datetime] = mapped_column()
    entry: Mapped[VisitEntry] = mapped_column(Enum(VisitEntry, name="visit_entry"))
    entered_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    entered_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    entry_reason: Mapped[str | None] = mapped_column(Text)
    exited_at: Mapped[datetime | None] = mapped_column()
    exit: Mapped[VisitExit | None] = mapped_column(Enum(VisitExit, name="visit_exit"))
    exited_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    exited_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    exit_reason: Mapped[str | None] = mapped_column(Text)
    # The visit's length in seconds once it ended: what funnels sort for medians (0007).
    seconds: Mapped[float | None] = mapped_column(
        Double,
        Computed("extract(epoch FROM exited_at - entered_at)::double precision", persisted=True),
    )

    __table_args__ = (
        ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "pipeline_id", "stage_id"],
            ["stages.workspace_id", "stages.pipeline_id", "stages.id"],
        ),
        CheckConstraint("(exited_at IS NULL) = (exit IS NULL)", name="exit_complete"),
        CheckConstraint("exited_at IS NULL OR exited_at >= entered_at", name="exit_after_entry"),
        Index(
            "uq_stage_visits_open_visit",
            "workspace_id",
            "lead_id",
            unique=True,
            postgresql_where=text("exited_at IS NULL"),
        ),
        Index("ix_stage_visits_lead", "workspace_id", "lead_id", "entered_at", "id"),
        Index("ix_stage_visits_stage", "workspace_id", "stage_id", "entered_at"),
        Index("ix_stage_visits_pipeline_entered", "workspace_id", "pipeline_id", "entered_at"),
        Index("ix_stage_visits_pipeline_exited", "workspace_id", "pipeline_id", "exited_at"),
        Index(
            "ix_stage_visits_lost",
            "workspace_id",
            "pipeline_id",
            "exited_at",
            postgresql_include=["stage_id", "lead_id"],
            postgresql_where=text("exit = 'LOST'"),
        ),
        # The visits open now, by pipeline and entry: the leads open at a window's end.
        Index(
            "ix_stage_visits_open",
            "workspace_id",
            "pipeline_id",
            "entered_at",
            postgresql_include=["lead_id", "stage_id"],
            postgresql_where=text("exited_at IS NULL"),
        ),
        # Covering, per stage: EVERY_ENTRY funnels read one range per stage, never sorting
        # visits by stage; losses likewise.
        Index(
            "ix_stage_visits_stage_entered",
            "workspace_id",
            "pipeline_id",
            "stage_id",
            "entered_at",
            postgresql_include=["lead_id", "exit", "seconds"],
        ),
        Index(
            "ix_stage_visits_stage_lost",
            "workspace_id",
            "pipeline_id",
            "stage_id",
            "exited_at",
            postgresql_include=["lead_id"],
            postgresql_where=text("exit = 'LOST'"),
        ),
    )


class LeadStageTotal(WorkspaceScoped, Base):
    """All of one lead's visits to one stage, summed: what FIRST_ENTRY metrics read.

    Kept exact by statement triggers on stage_visits, in the transaction that changes a visit
    (migration 0005): a row is recomputed from the lead's visits to the stage whenever one of
    them is inserted or closed. Never written by the application.
    """

    __tablename__ = "lead_stage_totals"

    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # first in the key
    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    first_entered_at: Mapped[datetime] = mapped_column()
    visit_count: Mapped[int] = mapped_column()
    open_visit_count: Mapped[int] = mapped_column()
    # The summed length of the finished visits.
    time_in_stage: Mapped[timedelta] = mapped_column(Interval)
    # Whether any visit left the stage forward or won.
    advanced: Mapped[bool] = mapped_column(Boolean)
    last_exited_at: Mapped[datetime | None] = mapped_column()
    # time_in_stage in seconds once no visit is open (else NULL): what funnels sort (0007).
    seconds: Mapped[float | None] = mapped_column(
        Double,
        Computed(
            "CASE WHEN open_visit_count = 0"
            " THEN extract(epoch FROM time_in_stage)::double precision"
            " ELSE NULL::double precision END",
            persisted=True,
        ),
    )

    # Derived from stage_visits, whose foreign keys hold: no foreign keys of its own.
    __table_args__ = (
        # Covering, per stage: FIRST_ENTRY funnels read one range of it per stage.
        Index(
            "ix_lead_stage_totals_stage_entry",
            "workspace_id",
            "pipeline_id",
            "stage_id",
            "first_entered_at",
            postgresql_include=["lead_id", "advanced", "open_visit_count", "seconds"],
        ),
    )
