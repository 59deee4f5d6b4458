"""Each API key spends query cost points from its own token bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import salesgraph.app
from salesgraph.app import create_app
from salesgraph.db.engine import Database
from salesgraph.graphql.limits import QueryLimits
from salesgraph.graphql.ratelimit import RateLimiter, RateLimitState
from salesgraph.graphql.schema import build_schema
from salesgraph.settings import ConfigurationError, Settings, load_settings
from tests.conftest import Api, new_workspace

pytestmark = pytest.mark.anyio


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# The bucket


def test_a_bucket_starts_full_and_refills_at_the_rate_per_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)  # 1 point a second
    assert limiter.charge("key", 10) == RateLimitState(
        allowed=True, limit=60, remaining=50, reset=10, retry_after=0
    )
    clock.advance(4)
    assert limiter.peek("key") == RateLimitState(
        allowed=True, limit=60, remaining=54, reset=6, retry_after=0
    )
    clock.advance(100)
    assert limiter.peek("key").remaining == 60  # never more than the burst


def test_a_charge_the_bucket_cannot_pay_takes_nothing_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)
    limiter.charge("key", 50)
    refused = limiter.charge("key", 15)
    assert refused == RateLimitState(allowed=False, limit=60, remaining=10, reset=50, retry_after=5)
    assert refused.headers() == {
        "RateLimit-Limit": "60",
        "RateLimit-Remaining": "10",
        "RateLimit-Reset": "50",
        "Retry-After": "5",
    }
    clock.advance(4.5)
    assert limiter.charge("key", 15).allowed is False
    clock.advance(0.5)
    assert limiter.charge("key", 15) == RateLimitState(
        allowed=True, limit=60, remaining=0, reset=60, retry_after=0
    )


def test_every_request_costs_at_least_one_point_and_at_most_a_full_bucket() -> None:
    limiter = RateLimiter(60, clock=Clock())
    assert limiter.charge("key", 0).remaining == 59
    assert limiter.charge("big", 1000) == RateLimitState(
        allowed=True, limit=60, remaining=0, reset=60, retry_after=0
    )
    assert limiter.charge("big", 1000).retry_after == 60


def test_keys_have_their_own_buckets() -> None:
    limiter = RateLimiter(60, clock=Clock())
    assert limiter.charge("a", 60).remaining == 0
    assert limiter.charge("a", 1).allowed is False
    assert limiter.charge("b", 1).remaining == 59


def test_fractional_rates_report_whole_numbers() -> None:
    clock = Clock()
    limiter = RateLimiter(100, clock=clock)  # 5/3 points a second
    assert limiter.charge("key", 100).reset == 60
    clock.advance(3)
    assert limiter.peek("key") == RateLimitState(
        allowed=True, limit=100, remaining=5, reset=57, retry_after=0
    )
    assert limiter.charge("key", 8).retry_after == 2


def test_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock, max_buckets=3)
    for key in range(5):
        limiter.charge(key, 30)
    assert len(limiter) == 3  # the least recently used were dropped
    assert limiter.peek(4).remaining == 30
    clock.advance(30)  # every bucket refilled: a full bucket is no bucket
    limiter.charge("new", 1)
    assert len(limiter) == 1
    # an untouched key is not stored by peeking
    limiter.peek("someone")
    assert len(limiter) == 1


def test_zero_points_per_minute_turns_limiting_off() -> None:
    limiter = RateLimiter(0)
    assert limiter.enabled is False
    assert limiter.charge("key", 10**9).allowed is True
    assert len(limiter) == 0


def test_the_budget_must_pay_for_the_most_expensive_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE", "19999")
    with pytest.raises(ConfigurationError, match="SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE"):
        load_settings()
    monkeypatch.setenv("SALESGRAPH_RATE_LIMIT_POINTS_PER_MINUTE", "0")
    assert load_settings().rate_limit_points_per_minute == 0


# Through the API


@dataclass
class Service:
    client: httpx.AsyncClient
    clock: Clock
    limiter: RateLimiter
    database: Database

    async def api(self) -> Api:
        workspace_id, token = await new_workspace(self.database)
        return Api(self.client, token, workspace_id)


@pytest.fixture
async def service(
    database_url: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Service]:
    """The app with a budget of 60 points a minute per key, on a clock that stands still."""
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)

    def schema_with_clock(limits: QueryLimits, **kwargs: Any) -> Any:
        assert limits.rate_limit_points_per_minute == 60  # what the settings say
        return build_schema(limits, rate_limiter=limiter)

    monkeypatch.setattr(salesgraph.app, "build_schema", schema_with_clock)
    settings = Settings(database_url=database_url, rate_limit_points_per_minute=60)
    app = create_app(settings, database_url)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Service(client, clock, limiter, database)
    finally:
        await app.state.database.dispose()


def rate_headers(response: httpx.Response) -> dict[str, str]:
    names = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after")
    return {name: response.headers[name] for name in names if name in response.headers}


FIFTY = "{ leads(first: 50) { nodes { title } } }"  # costs 50


async def test_every_authenticated_response_carries_the_budget(service: Service) -> None:
    api = await service.api()
    response = await api.post("{ leads(first: 5) { nodes { title } } }")
    assert response.status_code == 200
    assert rate_headers(response) == {
        "ratelimit-limit": "60",
        "ratelimit-remaining": "55",
        "ratelimit-reset": "5",
    }
    assert response.json()["extensions"] == {
        "cost": {"requested": 5, "maximum": 20_000, "limit": 60, "remaining": 55}
    }
    # a refused query is not charged, and still says where the budget stands
    for refused in ("{ leads { ", "{ leads { titel } }", "{ leads(first: 101) { totalCount } }"):
        response = await api.post(refused)
        assert response.status_code == 200
        assert response.json()["errors"]
        assert rate_headers(response) == {
            "ratelimit-limit": "60",
            "ratelimit-remaining": "55",
            "ratelimit-reset": "5",
        }


async def test_a_key_over_its_budget_gets_429_and_nothing_runs(service: Service) -> None:
    api = await service.api()
    assert rate_headers(await api.post(FIFTY))["ratelimit-remaining"] == "10"

    # When a request costs more than is left
    create = """mutation { createLead(input: {title: "Late"}) { lead { id } errors { code } } }"""
    response = await api.post(create)  # 10 + 1 + 10 = 21 points

    # Then it is refused with 429, the seconds to wait and the numbers, and nothing ran
    assert response.status_code == 429
    assert rate_headers(response) == {
        "ratelimit-limit": "60",
        "ratelimit-remaining": "10",
        "ratelimit-reset": "50",
        "retry-after": "11",
    }
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Rate limit exceeded: this query costs 21 points and 10 of the 60 "
                "points per minute are left; retry in 11 s.",
                "extensions": {
                    "code": "RATE_LIMITED",
                    "cost": 21,
                    "limit": 60,
                    "remaining": 10,
                    "retryAfter": 11,
                },
            }
        ],
        "extensions": {"cost": {"requested": 21, "maximum": 20_000, "limit": 60, "remaining": 10}},
    }
    service.clock.advance(10)
    assert (await api.post(create)).status_code == 429

    # and after waiting as told, it runs
    service.clock.advance(1)
    response = await api.post(create)
    assert response.status_code == 200
    assert response.json()["data"]["createLead"]["errors"] == []
    assert rate_headers(response)["ratelimit-remaining"] == "0"
    service.clock.advance(60)
    assert (await api("{ leads { totalCount } }"))["leads"]["totalCount"] == 1


async def test_one_key_exhausting_its_budget_does_not_slow_another(service: Service) -> None:
    exhausted, other = await service.api(), await service.api()
    assert (await exhausted.post(FIFTY)).status_code == 200
    assert (await exhausted.post(FIFTY)).status_code == 429

    response = await other.post(FIFTY)
    assert response.status_code == 200
    assert rate_headers(response)["ratelimit-remaining"] == "10"
    assert (await exhausted.post(FIFTY)).status_code == 429


async def test_introspection_without_a_key_is_not_charged(service: Service) -> None:
    response = await service.client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert rate_headers(response) == {}
    assert len(service.limiter) == 0


async def test_the_limit_is_off_at_zero_points(database_url: str, database: Database) -> None:
    settings = Settings(database_url=database_url, rate_limit_points_per_minute=0)
    app = create_app(settings, database_url)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            _, token = await new_workspace(database)
            api = Api(client, token)
            for _ in range(3):
                response = await api.post("{ leads(first: 100) { nodes { title } } }")
                assert response.status_code == 200
                assert rate_headers(response) == {}
                assert response.json()["extensions"] == {
                    "cost": {"requested": 100, "maximum": 20_000}
                }
    finally:
        await app.state.database.dispose()
