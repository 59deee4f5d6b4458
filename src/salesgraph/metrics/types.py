"""GraphQL types of the metrics: each field's description is its definition (docs/metrics.md)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from salesgraph.activities import models as activity_models
from salesgraph.activities import types as _activity_types  # noqa: F401 - registers the GraphQL enums
from salesgraph.errors import DomainError, validation
from salesgraph.graphql.context import Info
from salesgraph.graphql.cost import STATEMENTS
from salesgraph.graphql.enums import graphql_enum
from salesgraph.graphql.errors import query_error
from salesgraph.graphql.inputs import parse_id
from salesgraph.leads.types import Money
from salesgraph.metrics import service
from salesgraph.metrics.scope import Bucket, MetricScope, Reentry, buckets, checked_window
from salesgraph.objections import models as objection_models
from salesgraph.objections import types as _objection_types  # noqa: F401 - registers the GraphQL enums
from salesgraph.pipelines.types import Pipeline, Stage
from salesgraph.workspaces.types import Member

ReentryRule = graphql_enum(
    Reentry,
    name="ReentryRule",
    description="How a lead that enters a stage more than once is counted in a funnel.",
    values={
        "FIRST_ENTRY": "A lead counts once per stage, in the window of its first entry; it "
        "advanced if any of its visits to the stage did; its time there is the sum of all its "
        "visits, once it has left the stage.",
        "EVERY_ENTRY": "Every visit counts on its own, in the window it began in.",
    },
)
TrendBucket = graphql_enum(
    Bucket,
    name="TrendBucket",
    description="The length of a trend's buckets, aligned to UTC calendar days, ISO weeks "
    "(Monday first) or months; the first and last bucket are clipped to the window.",
    values={"DAY": "One UTC day.", "WEEK": "One ISO week.", "MONTH": "One calendar month."},
)


class TrendMetricName(enum.StrEnum):
    CREATED_LEADS = "CREATED_LEADS"
    WON_LEADS = "WON_LEADS"
    LOST_LEADS = "LOST_LEADS"
    WIN_RATE = "WIN_RATE"
    MEDIAN_SALES_CYCLE_DAYS = "MEDIAN_SALES_CYCLE_DAYS"
    MEAN_SALES_CYCLE_DAYS = "MEAN_SALES_CYCLE_DAYS"
    ACTIONS = "ACTIONS"
    OPEN_LEADS = "OPEN_LEADS"
    STALLED_LEADS = "STALLED_LEADS"
    WON_VALUE = "WON_VALUE"
    AVERAGE_DEAL_SIZE = "AVERAGE_DEAL_SIZE"
    PIPELINE_VALUE = "PIPELINE_VALUE"
    WEIGHTED_FORECAST = "WEIGHTED_FORECAST"
    SALES_VELOCITY = "SALES_VELOCITY"
    SHARE_OF_WINS_WITH_FIVE_OR_MORE_TOUCHES = "SHARE_OF_WINS_WITH_FIVE_OR_MORE_TOUCHES"
    SHARE_OF_REJECTED_GIVEN_UP = "SHARE_OF_REJECTED_GIVEN_UP"


MONEY_METRICS = {
    TrendMetricName.WON_VALUE,
    TrendMetricName.AVERAGE_DEAL_SIZE,
    TrendMetricName.PIPELINE_VALUE,
    TrendMetricName.WEIGHTED_FORECAST,
    TrendMetricName.SALES_VELOCITY,
}
PERSISTENCE_METRICS = {
    TrendMetricName.SHARE_OF_WINS_WITH_FIVE_OR_MORE_TOUCHES,
    TrendMetricName.SHARE_OF_REJECTED_GIVEN_UP,
}

TrendMetric = graphql_enum(
    TrendMetricName,
    name="TrendMetric",
    description="A scalar metric that can be trended; each bucket's value is the metric over "
    "that bucket as its window. Money metrics need a currency.",
    values={
        "CREATED_LEADS": "Leads created in the bucket.",
        "WON_LEADS": "Leads whose latest close, a win, lies in the bucket.",
        "LOST_LEADS": "Leads whose latest close, a loss, lies in the bucket.",
        "WIN_RATE": "won ÷ (won + lost) of the leads closed in the bucket.",
        "MEDIAN_SALES_CYCLE_DAYS": "Median days from creation to win of the bucket's wins.",
        "MEAN_SALES_CYCLE_DAYS": "Mean days from creation to win of the bucket's wins.",
        "ACTIONS": "Completed activities that occurred in the bucket.",
        "OPEN_LEADS": "Leads open at the end of the bucket.",
        "STALLED_LEADS": "Leads stalled at the end of the bucket (see SalesOutcomes.stalled).",
        "WON_VALUE": "Total value of the bucket's wins in the currency.",
        "AVERAGE_DEAL_SIZE": "Average value of the bucket's wins in the currency.",
        "PIPELINE_VALUE": "Value of the leads open at the end of the bucket, in the currency.",
        "WEIGHTED_FORECAST": "Σ value * stage win probability of the leads open at the end of "
        "the bucket, in the currency.",
        "SALES_VELOCITY": "Open leads * win rate * average deal size ÷ mean sales cycle days, "
        "per day, in the currency.",
        "SHARE_OF_WINS_WITH_FIVE_OR_MORE_TOUCHES": "Share of the bucket's wins that had five or "
        "more touches before the win.",
        "SHARE_OF_REJECTED_GIVEN_UP": "Share of the bucket's lost leads with a NEGATIVE outcome "
        "that got no touch after the first one.",
    },
)


@strawberry.input(description="A time window [from, to): from inclusive, to exclusive.")
class MetricWindowInput:
    from_: datetime = strawberry.field(name="from", description="Start, inclusive.")
    to: datetime = strawberry.field(description="End, exclusive; after from, at most 10 years.")


@strawberry.input(
    description="Which leads a metric counts, by their current owner, team and source; an "
    "omitted or empty list filters nothing, several values match any of them."
)
class MetricFilterInput:
    owner_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Leads owned by one of these members."
    )
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Leads of one of these teams."
    )
    sources: list[str] | None = strawberry.field(
        default=None, description="Leads from one of these sources (exact match)."
    )


def make_scope(
    workspace_id: uuid.UUID,
    pipeline_id: uuid.UUID,
    window: MetricWindowInput,
    filter: MetricFilterInput | None,
) -> MetricScope:
    """The scope of a metrics request; a bad window or id is a BAD_USER_INPUT error."""
    try:
        checked_window(window.from_, window.to, ["window"])
        owners = tuple(
            parse_id(value, "filter", "ownerIds") for value in (filter and filter.owner_ids) or ()
        )
        teams = tuple(
            parse_id(value, "filter", "teamIds") for value in (filter and filter.team_ids) or ()
        )
    except DomainError as error:
        raise query_error(error) from None
    sources = tuple((filter and filter.sources) or ())
    return MetricScope(workspace_id, pipeline_id, window.from_, window.to, owners, teams, sources)


@strawberry.type(description="Lengths of finished stays, in seconds.")
class DurationStats:
    count: int = strawberry.field(description="How many lengths were measured.")
    mean_seconds: float | None = strawberry.field(description="Their mean; null when none.")
    median_seconds: float | None = strawberry.field(
        description="Their median (the midpoint of the two middle values for an even count)."
    )
    p90_seconds: float | None = strawberry.field(
        description="Their 90th percentile by nearest rank: the ⌈0.9·n⌉-th smallest."
    )


@strawberry.type(description="One stage's funnel numbers over the window.")
class StageFunnel:
    row: strawberry.Private[service.StageFunnelRow]

    @strawberry.field(description="The stage (archived stages appear when they have numbers).")
    async def stage(self, info: Info) -> Stage:
        stage = await info.context.loaders.stage_by_id.load(self.row.stage_id)
        assert stage is not None  # the row came from the stages table in this workspace
        return Stage.from_model(stage)

    @strawberry.field(
        description="FIRST_ENTRY: leads whose first entry into the stage lies in the window. "
        "EVERY_ENTRY: visits of the stage that began in the window."
    )
    def entered(self) -> int:
        return self.row.entered

    @strawberry.field(
        description="Of those entered, the ones that left the stage forward (to a higher "
        "position) or were won while at it, at any time up to now (FIRST_ENTRY: any visit)."
    )
    def advanced(self) -> int:
        return self.row.advanced

    @strawberry.field(description="advanced ÷ entered; null when nothing entered.")
    def conversion_rate(self) -> float | None:
        return service.ratio(self.row.advanced, self.row.entered)

    @strawberry.field(
        description="Leads lost while at the stage, lost in the window (EVERY_ENTRY: visits "
        "that ended lost in the window)."
    )
    def lost(self) -> int:
        return self.row.lost

    @strawberry.field(description="Of those entered, the ones at the stage now.")
    def still_open(self) -> int:
        return self.row.still_open

    @strawberry.field(
        description="FIRST_ENTRY: for the entered leads that are not at the stage now, the "
        "total time across all their visits to it. EVERY_ENTRY: the length of each finished "
        "visit begun in the window."
    )
    def time_in_stage(self) -> DurationStats:
        row = self.row
        return DurationStats(
            count=row.finished,
            mean_seconds=row.mean_seconds,
            median_seconds=row.median_seconds,
            p90_seconds=row.p90_seconds,
        )

    @strawberry.field(
        description="Completed activities recorded at the stage that occurred in the window."
    )
    def actions(self) -> int:
        return self.row.actions

    @strawberry.field(description="actions ÷ entered; null when nothing entered.")
    def actions_per_entered_lead(self) -> float | None:
        return service.ratio(self.row.actions, self.row.entered)

    @strawberry.field(description="Leads at the stage at the end of the window (just before `to`).")
    def open_at_end(self) -> int:
        return self.row.open_at_end

    @strawberry.field(
        description="Of openAtEnd, the stalled ones (see SalesOutcomes.stalledLeads)."
    )
    def stalled(self) -> int:
        return self.row.stalled


@strawberry.type(description="Money outcomes in one currency; leads without a value are left out.")
class CurrencyOutcomes:
    currency: str = strawberry.field(description="ISO 4217 code.")
    won_with_value: int = strawberry.field(description="Leads won in the window with a value.")
    won_value: Decimal = strawberry.field(description="Total value of the leads won in the window.")
    average_deal_size: Decimal | None = strawberry.field(
        description="Mean value of the leads won in the window; null when none."
    )
    open_with_value: int = strawberry.field(
        description="Leads open at the end of the window with a value."
    )
    pipeline_value: Decimal = strawberry.field(
        description="Total value of the leads open at the end of the window."
    )
    weighted_forecast: Decimal = strawberry.field(
        description="Σ value * win probability of the stage each open lead was in at the end "
        "of the window."
    )
    sales_velocity: Decimal | None = strawberry.field(
        description="Expected won value per day: open leads (all currencies) * win rate * "
        "averageDealSize ÷ meanSalesCycleDays; null when a factor is undefined."
    )

    @classmethod
    def of(cls, row: service.CurrencyOutcome) -> CurrencyOutcomes:
        return cls(
            currency=row.currency,
            won_with_value=row.won_with_value,
            won_value=row.won_value,
            average_deal_size=row.average_deal_size,
            open_with_value=row.open_with_value,
            pipeline_value=row.pipeline_value,
            weighted_forecast=row.weighted_forecast,
            sales_velocity=row.sales_velocity,
        )


@strawberry.type(description="Open value by the month leads are expected to close.")
class ForecastMonth:
    month: date | None = strawberry.field(
        description="First day of the expected close month; null for leads without a date."
    )
    currency: str = strawberry.field(description="ISO 4217 code.")
    leads: int = strawberry.field(description="Open leads with a value in this month.")
    pipeline_value: Decimal = strawberry.field(description="Their total value.")
    weighted_forecast: Decimal = strawberry.field(
        description="Σ value * win probability of their stage at the end of the window."
    )


@strawberry.type(
    description="How the window's deals ended and what is open at its end. A lead counts as "
    "closed in the window when its latest close (won or lost) lies in it and it is still "
    "closed: a reopened lead counts by its latest outcome."
)
class SalesOutcomes:
    outcome: strawberry.Private[service.Outcome]
    scope: strawberry.Private[MetricScope]

    @strawberry.field(description="Leads created in the window.")
    def created_leads(self) -> int:
        return self.outcome.created

    @strawberry.field(description="Leads won in the window.")
    def won(self) -> int:
        return self.outcome.won

    @strawberry.field(description="Leads lost in the window.")
    def lost(self) -> int:
        return self.outcome.lost

    @strawberry.field(description="won ÷ (won + lost); null when none closed.")
    def win_rate(self) -> float | None:
        return self.outcome.win_rate

    @strawberry.field(
        description="Median days from creation to win of the leads won in the window."
    )
    def median_sales_cycle_days(self) -> float | None:
        return service.days(self.outcome.median_cycle_seconds)

    @strawberry.field(description="Mean days from creation to win of the leads won in the window.")
    def mean_sales_cycle_days(self) -> float | None:
        return service.days(self.outcome.mean_cycle_seconds)

    @strawberry.field(description="Completed activities that occurred in the window.")
    def actions(self) -> int:
        return self.outcome.actions

    @strawberry.field(
        description="Leads open at the end of the window (just before `to`), in any stage."
    )
    def open_leads(self) -> int:
        return self.outcome.open_leads

    @strawberry.field(
        description="Of the open leads, those stalled at the earlier of `to` and now: in a "
        "stage with target days, either there longer than that, or without a completed "
        "activity for that long (counted from the last one, or from the lead's creation)."
    )
    def stalled_leads(self) -> int:
        return self.outcome.stalled

    @strawberry.field(description="The money outcomes, one entry per currency.")
    def by_currency(self) -> list[CurrencyOutcomes]:
        return [CurrencyOutcomes.of(row) for row in self.outcome.currencies]

    @strawberry.field(
        description="Open value at the end of the window grouped by expected close month "
        "(leads without a date last).",
        metadata={STATEMENTS: 1},
    )
    async def forecast_by_month(self, info: Info) -> list[ForecastMonth]:
        async with info.context.read_session() as session:
            rows = await service.forecast_by_month(session, self.scope)
        return [
            ForecastMonth(
                month=row.month,
                currency=row.currency,
                leads=row.leads,
                pipeline_value=row.pipeline_value,
                weighted_forecast=row.weighted_forecast,
            )
            for row in rows
        ]


@strawberry.type(description="Leads with a given number of touches.")
class TouchBucket:
    touches: int = strawberry.field(description="0 to 4, or 5 for five or more.")
    leads: int = strawberry.field(description="Leads with that many touches.")


@strawberry.type(description="A distribution of leads by touches: 0, 1, 2, 3, 4 and 5+.")
class TouchDistribution:
    dist: strawberry.Private[service.TouchDistribution]

    @strawberry.field(description="Leads counted.")
    def leads(self) -> int:
        return self.dist.leads

    @strawberry.field(description="Six buckets, touches 0 to 5 (5 meaning five or more).")
    def buckets(self) -> list[TouchBucket]:
        return [TouchBucket(touches=k, leads=v) for k, v in sorted(self.dist.counts.items())]

    @strawberry.field(description="Share of the leads with five or more; null when none.")
    def share_five_or_more(self) -> float | None:
        return self.dist.share_five_or_more

    @strawberry.field(description="Share of the leads with none; null when none.")
    def share_zero(self) -> float | None:
        return self.dist.share_zero


@strawberry.type(
    description="Persistence. A touch is a completed OUTBOUND activity of type CALL, EMAIL, "
    "MEETING, DEMO, MESSAGE or CHAT."
)
class Persistence:
    row: strawberry.Private[service.Persistence]

    @strawberry.field(
        description="Leads won in the window by touches that occurred before the win."
    )
    def touches_before_win(self) -> TouchDistribution:
        return TouchDistribution(dist=self.row.before_win)

    @strawberry.field(
        description="Leads lost in the window that had a NEGATIVE outcome before the loss, by "
        "touches after the first one (strictly after it, up to the loss). shareZero is the "
        "share that gave up after one rejection."
    )
    def touches_after_rejection(self) -> TouchDistribution:
        return TouchDistribution(dist=self.row.after_rejection)

    @strawberry.field(description="Leads lost in the window without any NEGATIVE outcome.")
    def lost_without_rejection(self) -> int:
        return self.row.lost_without_rejection


@strawberry.type(description="Completed activities of one type and outcome in the window.")
class ActivityMixEntry:
    type: activity_models.ActivityType = strawberry.field(description="The type.")
    outcome: activity_models.Outcome | None = strawberry.field(
        description="The outcome; null for activities recorded without one."
    )
    count: int = strawberry.field(description="How many.")
    duration_seconds: int = strawberry.field(description="Their summed durations.")
    count_share: float | None = strawberry.field(description="count ÷ all counted activities.")
    time_share: float | None = strawberry.field(
        description="durationSeconds ÷ all durations; null when no duration was recorded."
    )


@strawberry.type(
    description="How a technique did: the leads it was used on (a completed activity with it "
    "in the window) and those that advanced from the stage it was used at."
)
class TechniqueResult:
    leads: int = strawberry.field(description="Leads it was used on.")
    advanced: int = strawberry.field(
        description="Of those, the leads that left that stage forward or were won there, at "
        "any time up to now."
    )
    conversion_rate: float | None = strawberry.field(description="advanced ÷ leads.")


@strawberry.type(description="An approach method's use and conversion.")
class ApproachMethodResult(TechniqueResult):
    method: activity_models.ApproachMethod = strawberry.field(description="The method.")


@strawberry.type(description="A closing technique's use and conversion.")
class ClosingTechniqueResult(TechniqueResult):
    technique: activity_models.ClosingTechnique = strawberry.field(description="The technique.")


def _approach(row: service.TechniqueRow) -> ApproachMethodResult:
    return ApproachMethodResult(
        method=activity_models.ApproachMethod(row.technique),
        leads=row.leads,
        advanced=row.advanced,
        conversion_rate=row.conversion_rate,
    )


def _closing(row: service.TechniqueRow) -> ClosingTechniqueResult:
    return ClosingTechniqueResult(
        technique=activity_models.ClosingTechnique(row.technique),
        leads=row.leads,
        advanced=row.advanced,
        conversion_rate=row.conversion_rate,
    )


@strawberry.type(description="Objections of one category raised in the window.")
class ObjectionCategoryResult:
    category: objection_models.ObjectionCategory = strawberry.field(description="The category.")
    raised: int = strawberry.field(description="Objections raised in the window.")
    resolved: int = strawberry.field(description="Of those, the ones RESOLVED now.")
    resolution_rate: float | None = strawberry.field(description="resolved ÷ raised.")
    leads: int = strawberry.field(description="Leads that raised one.")
    won_leads: int = strawberry.field(description="Of those leads, the ones won now.")
    lost_leads: int = strawberry.field(description="Of those leads, the ones lost now.")
    win_rate: float | None = strawberry.field(
        description="wonLeads ÷ (wonLeads + lostLeads); null when none is closed."
    )

    @classmethod
    def of(cls, row: service.ObjectionRow) -> ObjectionCategoryResult:
        return cls(
            category=objection_models.ObjectionCategory(row.category),
            raised=row.raised,
            resolved=row.resolved,
            resolution_rate=row.resolution_rate,
            leads=row.leads,
            won_leads=row.won,
            lost_leads=row.lost,
            win_rate=row.win_rate,
        )


@strawberry.type(
    description="One member's numbers: leads by their current owner, activities by who "
    "completed them."
)
class LeaderboardEntry:
    row: strawberry.Private[service.LeaderRow]

    @strawberry.field(description="The member; null if no longer readable.")
    async def member(self, info: Info) -> Member | None:
        member = await info.context.loaders.member_by_id.load(self.row.member_id)
        return Member.from_model(member) if member is not None else None

    @strawberry.field(description="Leads they own that were created in the window.")
    def created_leads(self) -> int:
        return self.row.created

    @strawberry.field(description="Leads they own that were won in the window.")
    def won(self) -> int:
        return self.row.won

    @strawberry.field(description="Leads they own that were lost in the window.")
    def lost(self) -> int:
        return self.row.lost

    @strawberry.field(description="won ÷ (won + lost); null when none closed.")
    def win_rate(self) -> float | None:
        return self.row.win_rate

    @strawberry.field(description="Median days from creation to win of their wins.")
    def median_sales_cycle_days(self) -> float | None:
        return service.days(self.row.median_cycle_seconds)

    @strawberry.field(description="Value of their wins, one entry per currency.")
    def won_value(self) -> list[Money]:
        return [Money(amount=amount, currency=currency) for currency, amount in self.row.won_value]

    @strawberry.field(description="Activities they completed in the window on counted leads.")
    def actions(self) -> int:
        return self.row.actions


@strawberry.type(description="One bucket of a trend.")
class TrendPoint:
    from_: datetime = strawberry.field(name="from", description="Bucket start, inclusive.")
    to: datetime = strawberry.field(description="Bucket end, exclusive.")
    value: float | None = strawberry.field(
        description="The metric over the bucket; null when undefined (a ratio over nothing)."
    )
    amount: Decimal | None = strawberry.field(
        description="For money metrics, the exact value; null otherwise."
    )


def _trend_value(
    metric: TrendMetricName,
    outcome: service.Outcome,
    persistence: service.Persistence | None,
    currency: str | None,
) -> Decimal | float | int | None:
    name = TrendMetricName
    if metric in MONEY_METRICS:
        money = next((m for m in outcome.currencies if m.currency == currency), None)
        zero = Decimal(0)
        values: dict[TrendMetricName, Decimal | None] = {
            name.WON_VALUE: money.won_value if money else zero,
            name.AVERAGE_DEAL_SIZE: money.average_deal_size if money else None,
            name.PIPELINE_VALUE: money.pipeline_value if money else zero,
            name.WEIGHTED_FORECAST: money.weighted_forecast if money else zero,
            name.SALES_VELOCITY: money.sales_velocity if money else None,
        }
        return values[metric]
    if persistence is not None:
        if metric is name.SHARE_OF_WINS_WITH_FIVE_OR_MORE_TOUCHES:
            return persistence.before_win.share_five_or_more
        return persistence.after_rejection.share_zero
    plain: dict[TrendMetricName, float | int | None] = {
        name.CREATED_LEADS: outcome.created,
        name.WON_LEADS: outcome.won,
        name.LOST_LEADS: outcome.lost,
        name.WIN_RATE: outcome.win_rate,
        name.MEDIAN_SALES_CYCLE_DAYS: service.days(outcome.median_cycle_seconds),
        name.MEAN_SALES_CYCLE_DAYS: service.days(outcome.mean_cycle_seconds),
        name.ACTIONS: outcome.actions,
        name.OPEN_LEADS: outcome.open_leads,
        name.STALLED_LEADS: outcome.stalled,
    }
    return plain[metric]


@strawberry.type(description="A pipeline's metrics over a window; every field is one query.")
class PipelineMetrics:
    scope: strawberry.Private[MetricScope]

    @strawberry.field(description="The pipeline.")
    async def pipeline(self, info: Info) -> Pipeline:
        row = await info.context.loaders.pipeline_by_id.load(self.scope.pipeline_id)
        assert row is not None  # checked when this object was made
        return Pipeline.from_model(row)

    @strawberry.field(name="from", description="The window's start, inclusive.")
    def from_(self) -> datetime:
        return self.scope.start

    @strawberry.field(description="The window's end, exclusive.")
    def to(self) -> datetime:
        return self.scope.end

    @strawberry.field(
        description="The funnel: one entry per stage, in position order.",
        metadata={STATEMENTS: 2},
    )
    async def funnel(
        self,
        info: Info,
        reentry: Annotated[
            Reentry, strawberry.argument(description="How re-entries count.")
        ] = Reentry.FIRST_ENTRY,
    ) -> list[StageFunnel]:
        async with info.context.read_session() as session:
            rows = await service.funnel(session, self.scope, reentry)
        return [StageFunnel(row=row) for row in rows]

    @strawberry.field(
        description="Wins, losses, cycles, value and forecast.", metadata={STATEMENTS: 1}
    )
    async def outcomes(self, info: Info) -> SalesOutcomes:
        async with info.context.read_session() as session:
            (outcome,) = await service.outcomes(session, self.scope)
        return SalesOutcomes(outcome=outcome, scope=self.scope)

    @strawberry.field(
        description="Touches before wins and after rejections.", metadata={STATEMENTS: 1}
    )
    async def persistence(self, info: Info) -> Persistence:
        async with info.context.read_session() as session:
            (row,) = await service.persistence(session, self.scope)
        return Persistence(row=row)

    @strawberry.field(
        description="Completed activities in the window by type and outcome, with the share "
        "of the count and of the time they took.",
        metadata={STATEMENTS: 1},
    )
    async def activity_mix(self, info: Info) -> list[ActivityMixEntry]:
        async with info.context.read_session() as session:
            rows = await service.activity_mix(session, self.scope)
        return [
            ActivityMixEntry(
                type=activity_models.ActivityType(row.type),
                outcome=activity_models.Outcome(row.outcome) if row.outcome else None,
                count=row.activities,
                duration_seconds=row.seconds,
                count_share=row.count_share,
                time_share=row.time_share,
            )
            for row in rows
        ]

    @strawberry.field(
        description="Approach methods used in the window and how leads advanced.",
        metadata={STATEMENTS: 1},
    )
    async def approach_methods(self, info: Info) -> list[ApproachMethodResult]:
        async with info.context.read_session() as session:
            rows = await service.techniques(session, self.scope, ["APPROACH"])
        return [_approach(row) for row in rows]

    @strawberry.field(
        description="Closing techniques used in the window and how leads advanced.",
        metadata={STATEMENTS: 1},
    )
    async def closing_techniques(self, info: Info) -> list[ClosingTechniqueResult]:
        async with info.context.read_session() as session:
            rows = await service.techniques(session, self.scope, ["CLOSING"])
        return [_closing(row) for row in rows]

    @strawberry.field(
        description="Objections raised in the window, by category.", metadata={STATEMENTS: 1}
    )
    async def objections(self, info: Info) -> list[ObjectionCategoryResult]:
        async with info.context.read_session() as session:
            rows = await service.objections(session, self.scope)
        return [ObjectionCategoryResult.of(row) for row in rows]

    @strawberry.field(
        description="Members with numbers in the window, most wins first, then most actions.",
        metadata={STATEMENTS: 2},
    )
    async def leaderboard(self, info: Info) -> list[LeaderboardEntry]:
        async with info.context.read_session() as session:
            rows = await service.leaderboard(session, self.scope)
        return [LeaderboardEntry(row=row) for row in rows]

    @strawberry.field(
        description="A scalar metric bucketed by day, week or month over the window: each "
        "bucket's value is the metric computed with that bucket as the window.",
        metadata={STATEMENTS: 2},
    )
    async def trend(
        self,
        info: Info,
        metric: Annotated[TrendMetricName, strawberry.argument(description="What to trend.")],
        bucket: Annotated[Bucket, strawberry.argument(description="Bucket length.")],
        currency: Annotated[
            str | None,
            strawberry.argument(description="ISO 4217 code; required for money metrics."),
        ] = None,
    ) -> list[TrendPoint]:
        try:
            if metric in MONEY_METRICS and not currency:
                raise validation("a money metric needs a currency", ["currency"])
            windows = buckets(self.scope.start, self.scope.end, bucket)
        except DomainError as error:
            raise query_error(error) from None
        async with info.context.read_session() as session:
            outcomes = await service.outcomes(
                session, self.scope, windows, with_money=metric in MONEY_METRICS
            )
            persistence: list[service.Persistence | None] = [None] * len(windows)
            if metric in PERSISTENCE_METRICS:
                persistence = list(await service.persistence(session, self.scope, windows))
        points = []
        for (start, end), outcome, kept in zip(windows, outcomes, persistence, strict=True):
            value = _trend_value(metric, outcome, kept, currency)
            points.append(
                TrendPoint(
                    from_=start,
                    to=end,
                    value=float(value) if value is not None else None,
                    amount=value if isinstance(value, Decimal) else None,
                )
            )
        return points


@strawberry.type(description="Completed activities of one type at a stage in the window.")
class StageActivityCount:
    type: activity_models.ActivityType = strawberry.field(description="The type.")
    count: int = strawberry.field(description="How many.")
    duration_seconds: int = strawberry.field(description="Their summed durations.")


@strawberry.type(
    description="One stage of the process map: the stage, its metrics, and the work done in it."
)
class ProcessMapStage:
    funnel: StageFunnel = strawberry.field(description="The stage's funnel metrics.")
    activities: list[StageActivityCount] = strawberry.field(
        description="Completed activities at the stage in the window by type, most first."
    )
    approach_methods: list[ApproachMethodResult] = strawberry.field(
        description="Approach methods used at the stage in the window."
    )
    closing_techniques: list[ClosingTechniqueResult] = strawberry.field(
        description="Closing techniques used at the stage in the window."
    )
    objections: list[ObjectionCategoryResult] = strawberry.field(
        description="Objections raised at the stage in the window, most common first."
    )

    @strawberry.field(description="The stage.")
    async def stage(self, info: Info) -> Stage:
        stage = await info.context.loaders.stage_by_id.load(self.funnel.row.stage_id)
        assert stage is not None  # the row came from the stages table in this workspace
        return Stage.from_model(stage)


@strawberry.type(
    description="The sales process map: for each stage in order, its metrics and the "
    "activities done in it (counts by type, approach methods or closing techniques, the most "
    "common objections)."
)
class ProcessMap:
    scope: strawberry.Private[MetricScope]
    reentry: Reentry = strawberry.field(description="How re-entries were counted.")
    stages: list[ProcessMapStage] = strawberry.field(description="The stages in position order.")

    @strawberry.field(description="The pipeline.")
    async def pipeline(self, info: Info) -> Pipeline:
        row = await info.context.loaders.pipeline_by_id.load(self.scope.pipeline_id)
        assert row is not None
        return Pipeline.from_model(row)

    @strawberry.field(name="from", description="The window's start, inclusive.")
    def from_(self) -> datetime:
        return self.scope.start

    @strawberry.field(description="The window's end, exclusive.")
    def to(self) -> datetime:
        return self.scope.end


async def process_map(info: Info, scope: MetricScope, reentry: Reentry) -> ProcessMap:
    """All of the map's numbers, read in one session."""
    async with info.context.read_session() as session:
        funnel = await service.funnel(session, scope, reentry)
        activities = await service.stage_activities(session, scope)
        techniques = await service.techniques(session, scope, by_stage=True)
        objections = await service.objections(session, scope, by_stage=True)
    stages = []
    for row in funnel:
        stage_objections = sorted(
            (o for o in objections if o.stage_id == row.stage_id),
            key=lambda o: (-o.raised, o.category),
        )
        stages.append(
            ProcessMapStage(
                funnel=StageFunnel(row=row),
                activities=[
                    StageActivityCount(
                        type=activity_models.ActivityType(a.type),
                        count=a.activities,
                        duration_seconds=a.seconds,
                    )
                    for a in activities.get(row.stage_id, [])
                ],
                approach_methods=[
                    _approach(t)
                    for t in techniques
                    if t.kind == "APPROACH" and t.stage_id == row.stage_id
                ],
                closing_techniques=[
                    _closing(t)
                    for t in techniques
                    if t.kind == "CLOSING" and t.stage_id == row.stage_id
                ],
                objections=[ObjectionCategoryResult.of(o) for o in stage_objections],
            )
        )
    return ProcessMap(scope=scope, reentry=reentry, stages=stages)
