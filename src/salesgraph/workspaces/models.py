"""Tables of the workspace domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base, TenantScoped, Timestamped, WorkspaceScoped
from salesgraph.db.ids import uuid7


class MemberRole(enum.StrEnum):
    """What a member may do in the workspace."""

    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    REP = "REP"
    VIEWER = "VIEWER"


class Scope(enum.StrEnum):
    """What an API key may do."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Workspace(Timestamped, Base):
    """The tenant: every other row belongs to exactly one workspace."""

    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),)


class Member(TenantScoped, Timestamped, Base):
    """A person who works in the workspace."""

    __tablename__ = "members"

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[MemberRole] = mapped_column(Enum(MemberRole, name="member_role", native_enum=True))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        UniqueConstraint("workspace_id", "email"),
    )


class Team(TenantScoped, Timestamped, Base):
    """A group of members, such as inside sales or account management."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        Index("uq_teams_name", "workspace_id", text("lower(name)"), unique=True),
    )


class TeamMembership(WorkspaceScoped, Base):
    """A member's place in a team."""

    __tablename__ = "team_memberships"

    workspace_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # first in the key
    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "team_id"], ["teams.workspace_id", "teams.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            ondelete="CASCADE",
        ),
    )


class ApiKey(TenantScoped, Base):
    """A credential for the API. Only a SHA-256 digest of its secret is stored."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    member_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["workspace_id", "member_id"], ["members.workspace_id", "members.id"]),
        CheckConstraint(
            "scopes <@ ARRAY['read','write','admin']::varchar[] AND cardinality(scopes) > 0",
            name="known_scopes",
        ),
    )
