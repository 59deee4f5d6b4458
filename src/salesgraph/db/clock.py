"""The database's clock: one time source for every process, fixed for a transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def transaction_time(session: AsyncSession) -> datetime:
    """The current transaction's start time (PostgreSQL's now()), in UTC."""
    value = await session.scalar(select(func.now()))
    assert isinstance(value, datetime)
    return value
