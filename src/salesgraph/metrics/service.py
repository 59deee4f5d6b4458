"""Runs the metric statements and turns their aggregate rows into exact results.

Everything is counted and summed in SQL (salesgraph.metrics.queries); here only ratios of
those counts are formed, with the definitions' rules: a ratio over nothing is None.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salesgraph.metrics import queries
from salesgraph.metrics.queries import Statement
from salesgraph.metrics.scope import MetricScope, Reentry

DAY_SECONDS = 86_400
SORT_MEMORY = "64MB"
# Money results are exact decimals; ratios of money (averages, velocity) are kept to this many
# places, more than any currency's minor unit.
MONEY_PLACES = Decimal("0.0001")


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / DAY_SECONDS


async def _rows(session: AsyncSession, statement: Statement) -> Sequence[Any]:
    return (await session.execute(statement.sql, statement.params)).all()


@dataclass(slots=True)
class StageFunnelRow:
    stage_id: uuid.UUID
    entered: int
    advanced: int
    still_open: int
    lost: int
    finished: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    actions: int
    open_at_end: int = 0
    stalled: int = 0


async def funnel(
    session: AsyncSession, scope: MetricScope, reentry: Reentry
) -> list[StageFunnelRow]:
    # The times in stage are sorted in memory: give the sort room (this transaction only).
    await session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
    rows = await _rows(session, queries.funnel(scope, reentry))
    state = {row.stage_id: row for row in await _rows(session, queries.stage_state(scope))}
    result = []
    for row in rows:
        item = StageFunnelRow(
            stage_id=row.stage_id,
            entered=row.entered,
            advanced=row.advanced,
            still_open=row.still_open,
            lost=row.lost,
            finished=row.finished,
            mean_seconds=float(row.mean_seconds) if row.mean_seconds is not None else None,
            median_seconds=row.median_seconds,
            p90_seconds=row.p90_seconds,
            actions=row.actions,
        )
        if (open_row := state.get(row.stage_id)) is not None:
            item.open_at_end, item.stalled = open_row.open_leads, open_row.stalled
        result.append(item)
    return result


@dataclass(slots=True)
class CurrencyOutcome:
    currency: str
    won_with_value: int = 0
    won_value: Decimal = Decimal(0)
    average_deal_size: Decimal | None = None
    open_with_value: int = 0
    pipeline_value: Decimal = Decimal(0)
    weighted_forecast: Decimal = Decimal(0)
    sales_velocity: Decimal | None = None


@dataclass(slots=True)
class Outcome:
    start: datetime
    end: datetime
    created: int
    won: int
    lost: int
    median_cycle_seconds: float | None
    mean_cycle_seconds: float | None
    open_leads: int
    stalled: int
    actions: int
    currencies: list[CurrencyOutcome] = field(default_factory=list)

    @property
    def win_rate(self) -> float | None:
        return ratio(self.won, self.won + self.lost)


def _velocity(outcome: Outcome, money: CurrencyOutcome) -> Decimal | None:
    """open leads * win rate * average deal size ÷ mean sales cycle in days, per day."""
    if money.average_deal_size is None or outcome.mean_cycle_seconds is None:
        return None
    closed = outcome.won + outcome.lost
    cycle_days = Decimal(repr(outcome.mean_cycle_seconds)) / DAY_SECONDS
    if not closed or not cycle_days:
        return None
    value = outcome.open_leads * Decimal(outcome.won) * money.average_deal_size
    return (value / closed / cycle_days).quantize(MONEY_PLACES)


async def outcomes(
    session: AsyncSession,
    scope: MetricScope,
    windows: list[tuple[datetime, datetime]] | None = None,
    *,
    with_money: bool = True,
) -> list[Outcome]:
    """One outcome per window (the scope's own when none are given), with its money per
    currency unless `with_money` is false: one statement (queries.outcomes)."""
    result: list[Outcome] = []
    statement = queries.outcomes(scope, windows, with_money=with_money)
    for row in await _rows(session, statement):
        if row.currency is None:  # the window's own row comes before its currencies'
            result.append(
                Outcome(
                    start=row.start_at,
                    end=row.end_at,
                    created=row.created,
                    won=row.won,
                    lost=row.lost,
                    median_cycle_seconds=row.median_cycle_seconds,
                    mean_cycle_seconds=row.mean_cycle_seconds,
                    open_leads=row.open_leads,
                    stalled=row.stalled,
                    actions=row.actions,
                )
            )
            continue
        outcome = result[-1]
        money = CurrencyOutcome(
            currency=row.currency,
            won_with_value=row.won_with_value,
            won_value=row.won_value.quantize(MONEY_PLACES),
            average_deal_size=(
                row.average_deal_size.quantize(MONEY_PLACES)
                if row.average_deal_size is not None
                else None
            ),
            open_with_value=row.open_with_value,
            pipeline_value=row.pipeline_value.quantize(MONEY_PLACES),
            weighted_forecast=row.weighted_forecast.quantize(MONEY_PLACES),
        )
        money.sales_velocity = _velocity(outcome, money)
        outcome.currencies.append(money)
    return result


@dataclass(frozen=True, slots=True)
class ForecastMonth:
    month: date | None
    currency: str
    leads: int
    pipeline_value: Decimal
    weighted_forecast: Decimal


async def forecast_by_month(session: AsyncSession, scope: MetricScope) -> list[ForecastMonth]:
    return [
        ForecastMonth(
            month=row.month,
            currency=row.currency,
            leads=row.leads,
            pipeline_value=row.pipeline_value,
            weighted_forecast=row.weighted_forecast.quantize(MONEY_PLACES),
        )
        for row in await _rows(session, queries.forecast_by_month(scope))
    ]


TOUCH_BUCKETS = (0, 1, 2, 3, 4, 5)


@dataclass(slots=True)
class TouchDistribution:
    """Leads by number of touches; bucket 5 holds five or more."""

    counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(TOUCH_BUCKETS, 0))

    @property
    def leads(self) -> int:
        return sum(self.counts.values())

    @property
    def share_five_or_more(self) -> float | None:
        return ratio(self.counts[5], self.leads)

    @property
    def share_zero(self) -> float | None:
        return ratio(self.counts[0], self.leads)


@dataclass(slots=True)
class Persistence:
    start: datetime
    before_win: TouchDistribution = field(default_factory=TouchDistribution)
    after_rejection: TouchDistribution = field(default_factory=TouchDistribution)
    lost_without_rejection: int = 0


async def persistence(
    session: AsyncSession,
    scope: MetricScope,
    windows: list[tuple[datetime, datetime]] | None = None,
) -> list[Persistence]:
    chosen = windows if windows is not None else scope.windows()
    result = {start: Persistence(start) for start, _ in chosen}
    for row in await _rows(session, queries.persistence(scope, chosen)):
        item = result[row.start_at]
        if row.outcome == "WON":
            item.before_win.counts[row.touches] = row.leads
        elif row.touches < 0:
            item.lost_without_rejection = row.leads
        else:
            item.after_rejection.counts[row.touches] = row.leads
    return [result[start] for start, _ in chosen]


@dataclass(frozen=True, slots=True)
class MixRow:
    type: str
    outcome: str | None
    activities: int
    seconds: int
    count_share: float | None
    time_share: float | None


async def activity_mix(session: AsyncSession, scope: MetricScope) -> list[MixRow]:
    rows = await _rows(session, queries.activity_mix(scope))
    total_count = sum(row.activities for row in rows)
    total_seconds = sum(row.seconds for row in rows)
    return [
        MixRow(
            row.type,
            row.outcome,
            row.activities,
            row.seconds,
            ratio(row.activities, total_count),
            ratio(row.seconds, total_seconds),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class TechniqueRow:
    kind: str
    technique: str
    stage_id: uuid.UUID | None
    leads: int
    advanced: int

    @property
    def conversion_rate(self) -> float | None:
        return ratio(self.advanced, self.leads)


async def techniques(
    session: AsyncSession,
    scope: MetricScope,
    kinds: Sequence[str] = tuple(queries.TECHNIQUE_COLUMNS),
    *,
    by_stage: bool = False,
) -> list[TechniqueRow]:
    """Per technique of the given kinds (APPROACH, CLOSING); stage_id is None unless by_stage."""
    statement = queries.techniques(scope, kinds, by_stage=by_stage)
    return [
        TechniqueRow(row.kind, row.technique, row.stage_id, row.leads, row.advanced)
        for row in await _rows(session, statement)
    ]


@dataclass(frozen=True, slots=True)
class ObjectionRow:
    category: str
    stage_id: uuid.UUID | None
    raised: int
    resolved: int
    leads: int
    won: int
    lost: int

    @property
    def resolution_rate(self) -> float | None:
        return ratio(self.resolved, self.raised)

    @property
    def win_rate(self) -> float | None:
        return ratio(self.won, self.won + self.lost)


async def objections(
    session: AsyncSession, scope: MetricScope, *, by_stage: bool = False
) -> list[ObjectionRow]:
    """Per category; stage_id is None unless by_stage."""
    return [
        ObjectionRow(
            row.category, row.stage_id, row.raised, row.resolved, row.leads, row.won, row.lost
        )
        for row in await _rows(session, queries.objections(scope, by_stage=by_stage))
    ]


@dataclass(slots=True)
class LeaderRow:
    member_id: uuid.UUID
    created: int
    won: int
    lost: int
    median_cycle_seconds: float | None
    actions: int
    won_value: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def win_rate(self) -> float | None:
        return ratio(self.won, self.won + self.lost)


async def leaderboard(session: AsyncSession, scope: MetricScope) -> list[LeaderRow]:
    rows = [
        LeaderRow(
            row.member_id, row.created, row.won, row.lost, row.median_cycle_seconds, row.actions
        )
        for row in await _rows(session, queries.leaderboard(scope))
    ]
    by_member = {row.member_id: row for row in rows}
    for row in await _rows(session, queries.won_value_by_owner(scope)):
        by_member[row.member_id].won_value.append((row.currency, row.won_value))
    return rows


@dataclass(frozen=True, slots=True)
class StageActivityRow:
    type: str
    activities: int
    seconds: int


async def stage_activities(
    session: AsyncSession, scope: MetricScope
) -> dict[uuid.UUID, list[StageActivityRow]]:
    result: dict[uuid.UUID, list[StageActivityRow]] = defaultdict(list)
    for row in await _rows(session, queries.stage_activities(scope)):
        result[row.stage_id].append(StageActivityRow(row.type, row.activities, row.seconds))
    return result
