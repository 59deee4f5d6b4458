"""What a metric is computed over: one pipeline, a half-open time window, optional lead filters."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from salesgraph.errors import validation

# A window may span at most this long, and a trend at most this many buckets: both bound the
# work of one request.
MAX_WINDOW = timedelta(days=3660)
MAX_BUCKETS = 400


class Reentry(enum.StrEnum):
    """How a lead that enters a stage more than once is counted."""

    FIRST_ENTRY = "FIRST_ENTRY"
    EVERY_ENTRY = "EVERY_ENTRY"


class Bucket(enum.StrEnum):
    """The length of a trend's buckets, aligned to UTC calendar days, ISO weeks or months."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@dataclass(frozen=True, slots=True)
class MetricScope:
    """One pipeline of the workspace, the window [start, end), and the leads to count.

    Filters select leads by their current owner, team and source; an empty tuple filters
    nothing.
    """

    workspace_id: uuid.UUID
    pipeline_id: uuid.UUID
    start: datetime
    end: datetime
    owner_ids: tuple[uuid.UUID, ...] = field(default=())
    team_ids: tuple[uuid.UUID, ...] = field(default=())
    sources: tuple[str, ...] = field(default=())

    def windows(self) -> list[tuple[datetime, datetime]]:
        """The scope's one window."""
        return [(self.start, self.end)]


def checked_window(start: datetime, end: datetime, field_path: Sequence[str]) -> None:
    """Refuse a window that is empty, reversed, unbounded in time zone or too long."""
    if start.tzinfo is None or end.tzinfo is None:
        raise validation("the window's times need a time zone", [*field_path, "from"])
    if not start < end:
        raise validation("the window must end after it starts", [*field_path, "to"])
    if end - start > MAX_WINDOW:
        raise validation(f"a window may span at most {MAX_WINDOW.days} days", [*field_path, "to"])


def _bucket_start(at: datetime, bucket: Bucket) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket is Bucket.DAY:
        return day
    if bucket is Bucket.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(at: datetime, bucket: Bucket) -> datetime:
    if bucket is Bucket.DAY:
        return at + timedelta(days=1)
    if bucket is Bucket.WEEK:
        return at + timedelta(weeks=1)
    # `at` is the first of a month here.
    return (
        at.replace(year=at.year + 1, month=1) if at.month == 12 else at.replace(month=at.month + 1)
    )


def buckets(start: datetime, end: datetime, bucket: Bucket) -> list[tuple[datetime, datetime]]:
    """The calendar buckets covering [start, end), each clipped to the window.

    The first and last bucket may be partial: a trend's buckets partition the window exactly,
    so that a count summed over the buckets equals the count over the window.
    """
    result: list[tuple[datetime, datetime]] = []
    at = _bucket_start(start, bucket)
    while at < end:
        following = _next(at, bucket)
        result.append((max(at, start), min(following, end)))
        if len(result) > MAX_BUCKETS:
            raise validation(
                f"a trend may have at most {MAX_BUCKETS} buckets; use a longer bucket",
                ["bucket"],
            )
        at = following
    return result
