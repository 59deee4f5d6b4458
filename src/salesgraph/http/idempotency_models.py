"""The table of idempotency records: one row per (API key, Idempotency-Key) for 24 hours.

Not a tenant table. A record is identified by the SHA-256 of the bearer token that made the
request, not by a workspace: the middleware claims a key before (and independently of)
authentication, and only the holder of the token can compute the hash that reaches its records.
Rows of a revoked or deleted key simply expire.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from salesgraph.db.base import Base

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"


class IdempotencyRecord(Base):
    """A mutation request's claim on its key and, once it has answered, its stored response."""

    __tablename__ = "idempotency_records"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(16))
    # Who holds the claim: the request that stores, releases or extends it must still own it.
    claim_id: Mapped[uuid.UUID] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    headers: Mapped[list[Any] | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        CheckConstraint("state IN ('IN_PROGRESS', 'COMPLETED')", name="known_state"),
        CheckConstraint(
            "(state = 'COMPLETED') = (status_code IS NOT NULL AND body IS NOT NULL)",
            name="completed_has_response",
        ),
        Index("ix_idempotency_records_expires_at", "expires_at"),
        # Not workspace-scoped: keyed by the API key's token hash (see the module docstring).
        {"info": {"tenant": False}},
    )
