"""Tables of the handoff domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped


class HandoffStatus(enum.StrEnum):
    """Where a handoff stands."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    SUPERSEDED = "SUPERSEDED"


class Handoff(TenantScoped, Base):
    """A lead handed from one owner and/or team to another, with a note.

    The lead's owner and team change when it is handed; the receiver then accepts it, and
    accepted_at - handed_at is the time to acceptance. A new handoff of the same lead
    supersedes a pending one. Rows are never deleted: handoffs are the lead's history.
    """

    __tablename__ = "handoffs"

    lead_id: Mapped[uuid.UUID] = mapped_column()
    from_owner_id: Mapped[uuid.UUID | None] = mapped_column()
    from_team_id: Mapped[uuid.UUID | None] = mapped_column()
    to_owner_id: Mapped[uuid.UUID | None] = mapped_column()
    to_team_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[HandoffStatus] = mapped_column(
        Enum(HandoffStatus, name="handoff_status"), server_default="PENDING"
    )
    handed_at: Mapped[datetime] = mapped_column()
    handed_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    handed_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by_member_id: Mapped[uuid.UUID | None] = mapped_column()
    accepted_by_api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    superseded_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "from_owner_id"], ["members.workspace_id", "members.id"]
        ),
        ForeignKeyConstraint(["workspace_id", "from_team_id"], ["teams.workspace_id", "teams.id"]),
        ForeignKeyConstraint(
            ["workspace_id", "to_owner_id"], ["members.workspace_id", "members.id"]
        ),
        ForeignKeyConstraint(["workspace_id", "to_team_id"], ["teams.workspace_id", "teams.id"]),
        CheckConstraint("to_owner_id IS NOT NULL OR to_team_id IS NOT NULL", name="has_receiver"),
        CheckConstraint(
            "(status = 'ACCEPTED') = (accepted_at IS NOT NULL)", name="accepted_matches_status"
        ),
        CheckConstraint(
            "(status = 'SUPERSEDED') = (superseded_at IS NOT NULL)",
            name="superseded_matches_status",
        ),
        CheckConstraint("accepted_at IS NULL OR accepted_at >= handed_at", name="accepted_after"),
        Index("ix_handoffs_lead", "workspace_id", "lead_id", "handed_at", "id"),
        Index(
            "uq_handoffs_pending",
            "workspace_id",
            "lead_id",
            unique=True,
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index(
            "ix_handoffs_pending_owner",
            "workspace_id",
            "to_owner_id",
            "handed_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_handoffs_handed", "workspace_id", "handed_at", "id"),
    )


class AssignmentKind(enum.StrEnum):
    """How an assignment rule picks the owner of a new lead."""

    ROUND_ROBIN = "ROUND_ROBIN"
    FIXED_OWNER = "FIXED_OWNER"


class AssignmentRule(TenantScoped, Timestamped, Base):
    """Who owns a new lead created without an owner: by its source, or any source.

    At most one rule per source (case-insensitive), plus one for every other source (source
    NULL). ROUND_ROBIN hands leads in turn to the active members of a team, in member-id
    order, continuing after `last_member_id`; the rule's row is locked while it picks, so
    concurrent creates take consecutive turns. FIXED_OWNER gives every lead to one member.
    """

    __tablename__ = "assignment_rules"

    kind: Mapped[AssignmentKind] = mapped_column(Enum(AssignmentKind, name="assignment_kind"))
    source: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    last_member_id: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["workspace_id", "team_id"], ["teams.workspace_id", "teams.id"]),
        ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
        CheckConstraint(
            "kind <> 'ROUND_ROBIN' OR (team_id IS NOT NULL AND owner_id IS NULL)",
            name="round_robin_has_team",
        ),
        CheckConstraint("kind <> 'FIXED_OWNER' OR owner_id IS NOT NULL", name="fixed_has_owner"),
        CheckConstraint("source IS NULL OR length(btrim(source)) > 0", name="source_not_blank"),
        Index(
            "uq_assignment_rules_source",
            "workspace_id",
            text("lower(coalesce(source, ''))"),
            unique=True,
        ),
    )
