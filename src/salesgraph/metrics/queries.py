# ruff: noqa: S608 - statements are composed from constant fragments; values are bound.
"""The metrics as SQL: one statement per metric family, computed in the database.

The definitions are those of docs/metrics.md; each statement below says which it computes.
Every statement names the workspace explicitly (so that indexes lead with it) and runs in a
session scoped to that workspace, where row-level security admits no other workspace's row.

Statements that can be trended take a list of windows (`:starts`, `:ends`, as arrays) and
return one group of rows per window, keyed by the window's start: a metric over one window is
the trend with one bucket, so a trend's bucket always equals the metric over that bucket.

Times in stage and sales cycles are returned in seconds; median is the midpoint of the two
middle values for even counts (percentile_cont), p90 is the nearest rank ⌈0.9·n⌉
(percentile_disc).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text

from salesgraph.metrics.scope import MetricScope, Reentry

# Completed work that counts (not deleted), on activities aliased `a`.
_DONE = "a.status = 'COMPLETED' AND a.deleted_at IS NULL"
# Each window [start_at, end_at) with the whole UTC days in it, [full_start, full_end): what
# rollups answer (an empty range when the window holds no whole day).
_WINDOWS = (
    "windows AS (SELECT * FROM unnest(CAST(:starts AS timestamptz[]),"
    " CAST(:ends AS timestamptz[]), CAST(:full_starts AS timestamptz[]),"
    " CAST(:full_ends AS timestamptz[])) AS w(start_at, end_at, full_start, full_end))"
)


@dataclass(frozen=True, slots=True)
class Statement:
    """A metric statement and its parameters."""

    sql: TextClause
    params: dict[str, Any]


def _leads(alias: str, scope: MetricScope) -> str:
    """The lead conditions every metric shares: the pipeline, not deleted, the filters."""
    conditions = [
        f"{alias}.workspace_id = :ws",
        f"{alias}.pipeline_id = :pipeline",
        f"{alias}.deleted_at IS NULL",
    ]
    if scope.owner_ids:
        conditions.append(f"{alias}.owner_id = ANY(CAST(:owners AS uuid[]))")
    if scope.team_ids:
        conditions.append(f"{alias}.team_id = ANY(CAST(:teams AS uuid[]))")
    if scope.sources:
        conditions.append(f"{alias}.source = ANY(CAST(:sources AS text[]))")
    return " AND ".join(conditions)


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The whole UTC days in [start, end), as [first midnight, last midnight); an empty range
    (both ends equal, within the window) when there is none."""
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(days=1)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = min(first, end)
    return first, max(last, first)


def _params(
    scope: MetricScope, windows: list[tuple[datetime, datetime]] | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ws": scope.workspace_id,
        "pipeline": scope.pipeline_id,
        "start": scope.start,
        "end": scope.end,
    }
    chosen = windows if windows is not None else scope.windows()
    params["starts"] = [start for start, _ in chosen]
    params["ends"] = [end for _, end in chosen]
    days = [whole_days(start, end) for start, end in chosen]
    params["full_starts"] = [first for first, _ in days]
    params["full_ends"] = [last for _, last in days]
    if scope.owner_ids:
        params["owners"] = list(scope.owner_ids)
    if scope.team_ids:
        params["teams"] = list(scope.team_ids)
    if scope.sources:
        params["sources"] = list(scope.sources)
    return params


def _join_lead(alias: str, scope: MetricScope) -> str:
    """A join to the row's lead, for statements that read the lead's columns."""
    on = f"l.workspace_id = {alias}.workspace_id AND l.id = {alias}.lead_id"
    return f"JOIN leads l ON {on} AND {_leads('l', scope)}"


def _counted(alias: str, scope: MetricScope) -> str:
    """The row's lead counts: a condition for rows that carry lead_id and pipeline_id.

    Without lead filters, this only excludes deleted leads, through the small partial index
    of deleted leads, instead of joining every lead of the pipeline.
    """
    if scope.owner_ids or scope.team_ids or scope.sources:
        return (
            f"EXISTS (SELECT FROM leads l WHERE l.workspace_id = :ws AND l.id = {alias}.lead_id"
            f" AND {_leads('l', scope)})"
        )
    return (
        "NOT EXISTS (SELECT FROM leads d WHERE d.workspace_id = :ws"
        f" AND d.id = {alias}.lead_id AND d.deleted_at IS NOT NULL)"
    )


def _filtered(scope: MetricScope) -> bool:
    return bool(scope.owner_ids or scope.team_ids or scope.sources)


def _done(scope: MetricScope, keys: Sequence[str], *, by_member: bool = False) -> str:
    """Completed activities (not deleted, of counted leads) in each window, as rows
    (start_at, *keys, activities, seconds) whose sums are the counts and durations.

    Unfiltered, the whole days of a window are read from the daily rollup (activity_daily, or
    activity_daily_members with `by_member`, whose only key is member_id), the partial days at
    its edges from the activities, and the activities of deleted leads in its whole days are
    subtracted (the rollup counts every lead's). With lead filters, the activities are read.
    """

    def raw(source: str) -> str:
        return "a.completed_by_member_id" if source == "member_id" else f"a.{source}"

    raw_keys = "".join(f"{raw(key)} AS {key}, " for key in keys)
    member = " AND a.completed_by_member_id IS NOT NULL" if by_member else ""

    def activities(low: str, high: str) -> str:
        return f"""
        SELECT w.start_at, {raw_keys}1 AS activities, coalesce(a.duration_seconds, 0) AS seconds
        FROM windows w JOIN activities a
          ON a.workspace_id = :ws AND a.pipeline_id = :pipeline AND {_DONE}{member}
         AND a.occurred_at >= {low} AND a.occurred_at < {high}
        WHERE {_counted("a", scope)}"""

    if _filtered(scope):
        return activities("w.start_at", "w.end_at")
    table = "activity_daily_members" if by_member else "activity_daily"
    seconds = "0" if by_member else "r.seconds"
    rollup_keys = "".join(f"r.{key}, " for key in keys)
    return f"""
        SELECT w.start_at, {rollup_keys}r.activities, {seconds} AS seconds
        FROM windows w JOIN {table} r
          ON r.workspace_id = :ws AND r.pipeline_id = :pipeline
         AND r.day >= (w.full_start AT TIME ZONE 'UTC')::date
         AND r.day < (w.full_end AT TIME ZONE 'UTC')::date
        UNION ALL{activities("w.start_at", "w.full_start")}
        UNION ALL{activities("w.full_end", "w.end_at")}
        UNION ALL
        SELECT w.start_at, {raw_keys}-1, -coalesce(a.duration_seconds, 0)
        FROM windows w
        JOIN leads d ON d.workspace_id = :ws AND d.deleted_at IS NOT NULL
        JOIN activities a
          ON a.workspace_id = :ws AND a.lead_id = d.id AND a.pipeline_id = :pipeline
         AND {_DONE}{member}
         AND a.occurred_at >= w.full_start AND a.occurred_at < w.full_end"""


def funnel(scope: MetricScope, reentry: Reentry) -> Statement:
    """Per stage: entered, advanced, still open, lost, time in stage, actions.

    Each stage's rows are one range of an index by pipeline, stage and entry, aggregated in a
    LATERAL subquery: nothing is sorted by stage, and the medians sort only a stage's times.
    FIRST_ENTRY reads lead_stage_totals (one row per lead and stage, exact); EVERY_ENTRY reads
    the visits. Archived stages appear only when something happened in them in the window.
    """
    if reentry is Reentry.FIRST_ENTRY:
        rows, entered_at = "lead_stage_totals t", "t.first_entered_at"
        advanced, still_open = "t.advanced", "t.open_visit_count > 0"
        lost = "count(DISTINCT v.lead_id)"
    else:
        rows, entered_at = "stage_visits t", "t.entered_at"
        advanced, still_open = "t.exit IN ('FORWARD', 'WON')", "t.seconds IS NULL"
        lost = "count(*)"
    sql = f"""
    WITH {_WINDOWS},
    actions AS (
        SELECT stage_id, sum(activities) AS actions
        FROM ({_done(scope, ["stage_id"])}
        ) d
        GROUP BY stage_id
    )
    SELECT s.id AS stage_id, e.entered, e.advanced, e.still_open, lo.lost, e.finished,
           e.mean_seconds, e.median_seconds, e.p90_seconds,
           coalesce(ac.actions, 0) AS actions
    FROM stages s
    CROSS JOIN LATERAL (
        SELECT count(*) AS entered,
               count(*) FILTER (WHERE {advanced}) AS advanced,
               count(*) FILTER (WHERE {still_open}) AS still_open,
               count(t.seconds) AS finished,
               avg(t.seconds) AS mean_seconds,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY t.seconds) AS median_seconds,
               percentile_disc(0.9) WITHIN GROUP (ORDER BY t.seconds) AS p90_seconds
        FROM {rows}
        WHERE t.workspace_id = :ws AND t.pipeline_id = :pipeline AND t.stage_id = s.id
          AND {entered_at} >= :start AND {entered_at} < :end
          AND {_counted("t", scope)}
    ) e
    CROSS JOIN LATERAL (
        SELECT {lost} AS lost
        FROM stage_visits v
        WHERE v.workspace_id = :ws AND v.pipeline_id = :pipeline AND v.stage_id = s.id
          AND v.exit = 'LOST' AND v.exited_at >= :start AND v.exited_at < :end
          AND {_counted("v", scope)}
    ) lo
    LEFT JOIN actions ac ON ac.stage_id = s.id
    WHERE s.workspace_id = :ws AND s.pipeline_id = :pipeline
      AND (s.archived_at IS NULL OR e.entered > 0 OR lo.lost > 0 OR ac.actions > 0)
    ORDER BY s.position
    """
    return Statement(text(sql), _params(scope))


def _open_at_end(scope: MetricScope) -> str:
    """Leads open at the end of each window, at the stage they were in then.

    "At the end" is the instant just before `end`: a visit counts when it began before `end`
    and had not ended before it. Stalled is judged at the earlier of `end` and now.
    """
    stalled_at = "least(w.end_at, now())"
    return f"""
    open_visits AS (
        SELECT w.start_at, v.lead_id, v.stage_id, v.entered_at, {stalled_at} AS judged_at
        FROM windows w JOIN stage_visits v
          ON v.workspace_id = :ws AND v.pipeline_id = :pipeline
         AND v.entered_at < w.end_at AND v.exited_at IS NULL
        UNION ALL
        SELECT w.start_at, v.lead_id, v.stage_id, v.entered_at, {stalled_at}
        FROM windows w JOIN stage_visits v
          ON v.workspace_id = :ws AND v.pipeline_id = :pipeline
         AND v.exited_at >= w.end_at AND v.entered_at < w.end_at
    ),
    open_leads AS (
        SELECT o.start_at, o.lead_id, o.stage_id, l.value_amount, l.value_currency,
               l.expected_close_date, s.win_probability,
               CASE
                   WHEN s.target_days IS NULL THEN false
                   WHEN o.judged_at - o.entered_at > make_interval(days => s.target_days)
                       THEN true
                   ELSE o.judged_at - greatest(l.created_at, (
                       -- (completed work's `at` is its occurred_at: one probe of the
                       -- index of each lead's completed work by time)
                       SELECT max(a.occurred_at) FROM activities a
                       WHERE a.workspace_id = :ws AND a.lead_id = o.lead_id
                         AND a.occurred_at < o.judged_at AND {_DONE}
                   )) > make_interval(days => s.target_days)
               END AS stalled
        FROM open_visits o
        JOIN leads l ON l.workspace_id = :ws AND l.id = o.lead_id AND {_leads("l", scope)}
        JOIN stages s ON s.workspace_id = :ws AND s.id = o.stage_id
    )"""


def _closed(scope: MetricScope, status: str) -> str:
    """Leads closed with `status` (WON or LOST) in each window, with their sales cycle,
    touches, owner and value, from closed_leads (which holds only leads not deleted), through
    the status's own covering index."""
    counted = f"AND {_counted('o', scope)}" if _filtered(scope) else ""
    return f"""
        SELECT w.start_at, '{status}' AS status, o.cycle_seconds AS cycle, o.touches,
               o.owner_id, o.value_amount, o.value_currency
        FROM windows w JOIN closed_leads o
          ON o.workspace_id = :ws AND o.pipeline_id = :pipeline AND o.status = '{status}'
         AND o.closed_at >= w.start_at AND o.closed_at < w.end_at {counted}"""


def outcomes(
    scope: MetricScope,
    windows: list[tuple[datetime, datetime]] | None = None,
    *,
    with_money: bool = True,
) -> Statement:
    """Per window: won, lost, win rate inputs, sales cycles, open leads, stalled leads, created
    leads and actions, in one row whose `currency` is NULL. With `with_money`, then per window
    and currency: won value and average deal size of leads won in the window, pipeline value
    and weighted forecast of leads open at its end (one computation of the open leads serves
    both)."""
    money = """
    UNION ALL
    SELECT coalesce(wo.start_at, ov.start_at), NULL, coalesce(wo.currency, ov.currency),
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           coalesce(wo.won_with_value, 0), coalesce(wo.won_value, 0), wo.average_deal_size,
           coalesce(ov.open_with_value, 0), coalesce(ov.pipeline_value, 0),
           coalesce(ov.weighted_forecast, 0)
    FROM won_value wo FULL JOIN open_value ov
      ON ov.start_at = wo.start_at AND ov.currency = wo.currency"""
    money_parts = """,
    won_value AS (
        SELECT start_at, value_currency AS currency, count(*) AS won_with_value,
               sum(value_amount) AS won_value, avg(value_amount) AS average_deal_size
        FROM won_leads
        WHERE value_amount IS NOT NULL
        GROUP BY start_at, value_currency
    ),
    open_value AS (
        SELECT start_at, value_currency AS currency, count(*) AS open_with_value,
               sum(value_amount) AS pipeline_value,
               sum(value_amount * win_probability) AS weighted_forecast
        FROM open_leads WHERE value_amount IS NOT NULL
        GROUP BY start_at, value_currency
    )"""
    sql = f"""
    WITH {_WINDOWS},
    -- Read once, for the counts and cycles and (with money) the won value.
    won_leads AS ({_closed(scope, "WON")}
    ),
    won AS (
        SELECT start_at, count(*) AS won, avg(cycle) AS mean_cycle_seconds,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle) AS median_cycle_seconds
        FROM won_leads
        GROUP BY start_at
    ),
    lost AS (
        SELECT start_at, count(*) AS lost
        FROM ({_closed(scope, "LOST")}
        ) c
        GROUP BY start_at
    ),
    {_open_at_end(scope).strip()},
    open_stats AS (
        SELECT start_at, count(*) AS open_leads, count(*) FILTER (WHERE stalled) AS stalled
        FROM open_leads GROUP BY start_at
    ),
    created AS (
        SELECT w.start_at, count(*) AS created
        FROM windows w JOIN leads l
          ON l.created_at >= w.start_at AND l.created_at < w.end_at AND {_leads("l", scope)}
        GROUP BY w.start_at
    ),
    actions AS (
        SELECT start_at, sum(activities) AS actions
        FROM ({_done(scope, [])}
        ) d
        GROUP BY start_at
    ){money_parts if with_money else ""}
    SELECT w.start_at, w.end_at, NULL AS currency,
           coalesce(c.won, 0) AS won, coalesce(lo.lost, 0) AS lost,
           c.median_cycle_seconds, c.mean_cycle_seconds,
           coalesce(o.open_leads, 0) AS open_leads, coalesce(o.stalled, 0) AS stalled,
           coalesce(cr.created, 0) AS created, coalesce(ac.actions, 0) AS actions,
           NULL::bigint AS won_with_value, NULL::numeric AS won_value,
           NULL::numeric AS average_deal_size, NULL::bigint AS open_with_value,
           NULL::numeric AS pipeline_value, NULL::numeric AS weighted_forecast
    FROM windows w
    LEFT JOIN won c ON c.start_at = w.start_at
    LEFT JOIN lost lo ON lo.start_at = w.start_at
    LEFT JOIN open_stats o ON o.start_at = w.start_at
    LEFT JOIN created cr ON cr.start_at = w.start_at
    LEFT JOIN actions ac ON ac.start_at = w.start_at{money if with_money else ""}
    ORDER BY 1, 3 NULLS FIRST
    """
    return Statement(text(sql), _params(scope, windows))


def forecast_by_month(scope: MetricScope) -> Statement:
    """Open value at the end of the window by expected close month and currency."""
    sql = f"""
    WITH {_WINDOWS},
    {_open_at_end(scope).strip()}
    SELECT date_trunc('month', expected_close_date)::date AS month, value_currency AS currency,
           count(*) AS leads, sum(value_amount) AS pipeline_value,
           sum(value_amount * win_probability) AS weighted_forecast
    FROM open_leads WHERE value_amount IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2
    """
    return Statement(text(sql), _params(scope))


def stage_state(scope: MetricScope) -> Statement:
    """Per stage: leads open at the end of the window there, and how many of them stalled."""
    sql = f"""
    WITH {_WINDOWS},
    {_open_at_end(scope).strip()}
    SELECT stage_id, count(*) AS open_leads, count(*) FILTER (WHERE stalled) AS stalled
    FROM open_leads GROUP BY stage_id
    """
    return Statement(text(sql), _params(scope))


def persistence(
    scope: MetricScope, windows: list[tuple[datetime, datetime]] | None = None
) -> Statement:
    """Per window: touches before each win as buckets 0..5 (5 = five or more); touches after
    the first NEGATIVE outcome on each lost lead, the same way (-1 = lost without one).

    The touches are closed_leads', kept per closed lead by triggers (migration 0007, with
    its own copy of the activity models' touch and rejection conditions).
    """
    sql = f"""
    WITH {_WINDOWS},
    closed AS ({_closed(scope, "WON")}
        UNION ALL{_closed(scope, "LOST")}
    )
    SELECT start_at, status AS outcome,
           CASE WHEN touches IS NULL THEN -1 ELSE least(touches, 5) END AS touches,
           count(*) AS leads
    FROM closed
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    """
    return Statement(text(sql), _params(scope, windows))


def activity_mix(scope: MetricScope) -> Statement:
    """Completed activities in the window by type and outcome: count and time spent."""
    sql = f"""
    WITH {_WINDOWS}
    SELECT type::text AS type, outcome::text AS outcome, sum(activities) AS activities,
           sum(seconds)::bigint AS seconds
    FROM ({_done(scope, ["type", "outcome"])}
    ) d
    GROUP BY 1, 2 HAVING sum(activities) > 0
    ORDER BY 1, 2 NULLS LAST
    """
    return Statement(text(sql), _params(scope))


# The activity columns that record a technique, by kind.
TECHNIQUE_COLUMNS = {"APPROACH": "approach_method", "CLOSING": "closing_technique"}


def techniques(
    scope: MetricScope,
    kinds: Sequence[str] = tuple(TECHNIQUE_COLUMNS),
    *,
    by_stage: bool = False,
) -> Statement:
    """Approach methods and/or closing techniques used in the window: the leads they were used
    on (over all stages, or per stage with `by_stage`) and how many of those advanced from the
    stage it was used at."""
    used = "\n        UNION\n".join(
        f"""
        SELECT DISTINCT '{kind}' AS kind, a.{TECHNIQUE_COLUMNS[kind]}::text AS technique,
               a.lead_id, a.stage_id
        FROM activities a
        WHERE a.workspace_id = :ws AND a.pipeline_id = :pipeline AND {_DONE}
          AND {_counted("a", scope)}
          AND a.occurred_at >= :start AND a.occurred_at < :end
          AND (a.approach_method IS NOT NULL OR a.closing_technique IS NOT NULL)
          AND a.{TECHNIQUE_COLUMNS[kind]} IS NOT NULL"""
        for kind in kinds
    )
    stage = "stage_id" if by_stage else "NULL::uuid"
    sql = f"""
    WITH used AS ({used}
    ),
    -- A lookup of each (lead, stage) used, by key: never reading the pipeline's every total.
    judged AS (
        SELECT u.kind, u.technique, u.lead_id, u.stage_id, coalesce((
            SELECT t.advanced FROM lead_stage_totals t
            WHERE t.workspace_id = :ws AND t.lead_id = u.lead_id AND t.stage_id = u.stage_id
        ), false) AS advanced
        FROM used u
    )
    SELECT kind, technique, {stage} AS stage_id, count(DISTINCT lead_id) AS leads,
           count(DISTINCT lead_id) FILTER (WHERE advanced) AS advanced
    FROM judged GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    """
    return Statement(text(sql), _params(scope))


def objections(scope: MetricScope, *, by_stage: bool = False) -> Statement:
    """Objections raised in the window by category (over all stages, or per stage with
    `by_stage`): count, resolved, and the won and lost leads among the leads that raised one."""
    stage = "o.stage_id" if by_stage else "NULL::uuid"
    sql = f"""
    SELECT o.category::text AS category, {stage} AS stage_id, count(*) AS raised,
           count(*) FILTER (WHERE o.status = 'RESOLVED') AS resolved,
           count(DISTINCT o.lead_id) AS leads,
           count(DISTINCT o.lead_id) FILTER (WHERE l.status = 'WON') AS won,
           count(DISTINCT o.lead_id) FILTER (WHERE l.status = 'LOST') AS lost
    FROM objections o {_join_lead("o", scope)}
    WHERE o.workspace_id = :ws AND o.pipeline_id = :pipeline
      AND o.raised_at >= :start AND o.raised_at < :end
    GROUP BY 1, 2
    ORDER BY 1, 2
    """
    return Statement(text(sql), _params(scope))


def leaderboard(scope: MetricScope) -> Statement:
    """Per member: leads created, won and lost in the window among the leads they own now,
    the median sales cycle of those wins, and the activities they completed in the window.

    Each part is grouped on its own (created leads from an index of leads by creation, wins and
    losses from closed_leads, actions from the daily rollup) and the parts are summed per
    member: only the wins are sorted, for their median."""
    sql = f"""
    WITH {_WINDOWS},
    created AS (
        SELECT l.owner_id AS member_id, count(*) AS created
        FROM leads l
        WHERE {_leads("l", scope)} AND l.owner_id IS NOT NULL
          AND l.created_at >= :start AND l.created_at < :end
        GROUP BY 1
    ),
    won AS (
        SELECT owner_id AS member_id, count(*) AS won,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle) AS median_cycle_seconds
        FROM ({_closed(scope, "WON")}
        ) c
        WHERE owner_id IS NOT NULL
        GROUP BY 1
    ),
    lost AS (
        SELECT owner_id AS member_id, count(*) AS lost
        FROM ({_closed(scope, "LOST")}
        ) c
        WHERE owner_id IS NOT NULL
        GROUP BY 1
    ),
    done AS (
        SELECT member_id, sum(activities) AS actions
        FROM ({_done(scope, ["member_id"], by_member=True)}
        ) d
        GROUP BY 1 HAVING sum(activities) > 0
    ),
    parts AS (
        SELECT member_id, created, 0 AS won, 0 AS lost, NULL::float8 AS median_cycle_seconds,
               0 AS actions
        FROM created
        UNION ALL
        SELECT member_id, 0, won, 0, median_cycle_seconds, 0 FROM won
        UNION ALL
        SELECT member_id, 0, 0, lost, NULL, 0 FROM lost
        UNION ALL
        SELECT member_id, 0, 0, 0, NULL, actions FROM done
    )
    SELECT member_id, sum(created)::bigint AS created, sum(won)::bigint AS won,
           sum(lost)::bigint AS lost, max(median_cycle_seconds) AS median_cycle_seconds,
           sum(actions)::bigint AS actions
    FROM parts
    GROUP BY member_id
    ORDER BY won DESC, actions DESC, member_id
    """
    return Statement(text(sql), _params(scope))


def won_value_by_owner(scope: MetricScope) -> Statement:
    """Per member and currency: value of the leads they own that were won in the window."""
    sql = f"""
    WITH {_WINDOWS}
    SELECT owner_id AS member_id, value_currency AS currency, sum(value_amount) AS won_value
    FROM ({_closed(scope, "WON")}
    ) c
    WHERE owner_id IS NOT NULL AND value_amount IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    """
    return Statement(text(sql), _params(scope))


def stage_activities(scope: MetricScope) -> Statement:
    """Per stage: completed activities in the window by type (the process map's middle column)."""
    sql = f"""
    WITH {_WINDOWS}
    SELECT stage_id, type::text AS type, sum(activities) AS activities,
           sum(seconds)::bigint AS seconds
    FROM ({_done(scope, ["stage_id", "type"])}
    ) d
    GROUP BY 1, 2 HAVING sum(activities) > 0
    ORDER BY 1, 3 DESC, 2
    """
    return Statement(text(sql), _params(scope))


# Every metric statement for one scope, by name: what the benchmark times.
METRIC_QUERIES: Mapping[str, Callable[[MetricScope], Statement]] = {
    "funnel (first entry)": lambda scope: funnel(scope, Reentry.FIRST_ENTRY),
    "funnel (every entry)": lambda scope: funnel(scope, Reentry.EVERY_ENTRY),
    "outcomes": outcomes,
    "forecast by month": forecast_by_month,
    "stage state": stage_state,
    "persistence": persistence,
    "activity mix": activity_mix,
    "techniques": techniques,
    "objections": objections,
    "leaderboard": leaderboard,
    "won value by owner": won_value_by_owner,
    "stage activities": stage_activities,
}
