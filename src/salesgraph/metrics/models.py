"""Rollups that metric queries read instead of the raw rows (migration 0007).

Every table here is derived: statement triggers keep it exact in the transaction that changes
its source rows, so it is never stale, and the application never writes it. No foreign keys
of their own: their sources' hold.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Double, Enum, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.activities.models import ActivityType, Outcome
from salesgraph.db.base import Base, WorkspaceScoped
from salesgraph.leads.models import LeadStatus


class ActivityDaily(Base):
    """Completed activities (not deleted) of one UTC day of `occurred_at`, pipeline, stage, type
    and outcome: how many, and their summed duration.

    Triggers on activities add a changed row's old version with -1 and its new version with +1.
    Metrics read whole days of a window here, the edge days and deleted leads' activities from
    the activities. No primary key: `outcome` may be NULL, so the key is a unique index whose
    NULLs are not distinct.
    """

    __tablename__ = "activity_daily"

    workspace_id: Mapped[uuid.UUID] = mapped_column()
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    day: Mapped[date] = mapped_column()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[ActivityType] = mapped_column(Enum(ActivityType, name="activity_type"))
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, name="activity_outcome"))
    activities: Mapped[int] = mapped_column()
    seconds: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index(
            "uq_activity_daily",
            "workspace_id",
            "pipeline_id",
            "day",
            "stage_id",
            "type",
            "outcome",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )
    __mapper_args__ = {"primary_key": [workspace_id, pipeline_id, day, stage_id, type, outcome]}


class ActivityDailyMember(WorkspaceScoped, Base):
    """Completed activities (not deleted) of one UTC day and pipeline, by the member who
    completed them: what a leaderboard counts. Kept like activity_daily."""

    __tablename__ = "activity_daily_members"

    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # first in the key
    pipeline_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    activities: Mapped[int] = mapped_column()


class ClosedLead(WorkspaceScoped, Base):
    """One closed (WON or LOST) lead that is not deleted, with what outcome, persistence and
    leaderboard metrics read, so that they never visit the leads table.

    `touches`: for a win, the touches before it; for a loss, the touches after the lead's first
    rejection, or NULL when it was lost without one (docs/metrics.md). Recomputed from the
    lead and its activities when the lead closes, reopens, moves, changes owner or value, is
    deleted, restored or erased, or one of its completed activities changes.
    """

    __tablename__ = "closed_leads"

    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # first in the key
    lead_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pipeline_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[LeadStatus] = mapped_column(Enum(LeadStatus, name="lead_status"))
    closed_at: Mapped[datetime] = mapped_column()
    # closed_at - created_at, in seconds: the sales cycle.
    cycle_seconds: Mapped[float] = mapped_column(Double)
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    value_amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    value_currency: Mapped[str | None] = mapped_column(String(3))
    touches: Mapped[int | None] = mapped_column()

    # Covering, one per status: metrics read one status's closings in a window from its index
    # alone. Partial, because under row-level security a condition on an enum (whose equality
    # is not leakproof) cannot be an index condition, but it selects a partial index.
    __table_args__ = tuple(
        Index(
            f"ix_closed_leads_{status.lower()}",
            "workspace_id",
            "pipeline_id",
            "closed_at",
            postgresql_include=[
                "cycle_seconds",
                "touches",
                "owner_id",
                "value_amount",
                "value_currency",
            ],
            postgresql_where=text(f"status = '{status}'"),
        )
        for status in ("WON", "LOST")
    )
