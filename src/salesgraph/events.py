"""Domain events, written in the caller's transaction.

Every state change records an event with the changed fields' old and new values. Timelines,
subscriptions and webhooks are built on these rows; because they are written in the same
transaction as the change, an event exists exactly when its change was committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped


class DomainEvent(TenantScoped, Base):
    """Something that happened to an object of the workspace."""

    __tablename__ = "domain_events"

    type: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    actor_member_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    # The lead the event belongs to (the subject itself for lead events): a lead's timeline.
    lead_id: Mapped[uuid.UUID | None] = mapped_column()
    # When it happened (for a backfilled activity, its own time) and when it was written.
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        Index("ix_domain_events_subject", "workspace_id", "subject_id", "occurred_at", "id"),
        Index("ix_domain_events_stream", "workspace_id", "id"),
        Index(
            "ix_domain_events_lead",
            "workspace_id",
            "lead_id",
            "occurred_at",
            "id",
            postgresql_where=text("lead_id IS NOT NULL"),
        ),
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a change: a member, an API key acting for an integration, or the system."""

    member_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None


SYSTEM = Actor()


def record_event(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    type: str,
    subject_type: str,
    subject_id: uuid.UUID,
    actor: Actor,
    data: dict[str, Any],
    lead_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> DomainEvent:
    """Add an event to the session; it is flushed and committed with the change it describes.

    `lead_id` puts it on that lead's timeline (lead events are on their own); `occurred_at`
    dates it other than now, for something that happened earlier than it was recorded.
    """
    event = DomainEvent(
        workspace_id=workspace_id,
        type=type,
        subject_type=subject_type,
        subject_id=subject_id,
        actor_member_id=actor.member_id,
        actor_api_key_id=actor.api_key_id,
        lead_id=subject_id if subject_type == "lead" and lead_id is None else lead_id,
        data=data,
    )
    if occurred_at is not None:
        event.occurred_at = occurred_at
    session.add(event)
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields that differ, as {field: {"old": ..., "new": ...}} (JSON-ready values)."""
    return {
        name: {"old": _jsonable(before.get(name)), "new": _jsonable(value)}
        for name, value in after.items()
        if before.get(name) != value
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):  # dates, and timestamps (a datetime is a date)
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "as_tuple"):  # Decimal: keep exact, as a string
        return str(value)
    return value
