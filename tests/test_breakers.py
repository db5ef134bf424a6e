"""Circuit breakers on a real Redis: ping-pong on a thread stops after N (K2), an installation-wide
storm pauses the installation and notifies once."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from redis.asyncio import Redis

from app.repo_config import parse_repo_config
from app.repo_state import RepoState
from app.routing import route
from jobs import breakers
from jobs.breakers import (
    INSTALLATION,
    THREAD,
    BreakerStore,
    Policy,
    Trip,
    check_breakers,
    decide_breaker,
    resume_installation,
    thread_scope,
)
from jobs.gate import Action, GateFacts, decide_gate
from tests.github_support import Clock
from tests.support import fixture_json, make_settings

INSTALLATION_ID = 4242
POLICY = Policy(limit=3, window_s=600, cooldown_s=1800, what="thread")


class Trips:
    def __init__(self) -> None:
        self.seen: list[Trip] = []

    async def __call__(self, trip: Trip) -> None:
        self.seen.append(trip)


@pytest.fixture
def trips() -> Trips:
    return Trips()


@pytest.fixture
def store(redis: Redis, clock: Clock, trips: Trips) -> BreakerStore:
    return BreakerStore(redis, clock=clock, on_trip=trips)


# -- pure -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "open_for", "expected"),
    [
        (1, None, (False, False)),
        (3, None, (False, False)),
        (4, None, (True, True)),
        (0, 120.0, (True, False)),
        (0, -1.0, (True, False)),
    ],
)
def test_decide_breaker(count: int, open_for: float | None, expected: tuple[bool, bool]) -> None:
    verdict = decide_breaker(count, open_for, POLICY)
    assert (verdict.open, verdict.tripped) == expected
    assert (verdict.why is None) is (not verdict.open)


def test_the_sentence_says_what_and_for_how_long() -> None:
    assert decide_breaker(4, None, POLICY).why == (
        "Circuit breaker: 4 runs on this thread in 10 minutes; paused for 30 more minutes."
    )
    assert decide_breaker(0, -1.0, INSTALLATION).why == (
        "Circuit breaker: more than 60 runs on this installation in 15 minutes; "
        "paused until a maintainer resumes it."
    )


# -- the store --------------------------------------------------------------------------------------


async def test_the_window_slides_and_an_open_breaker_closes_after_its_cooldown(
    store: BreakerStore, clock: Clock, redis: Redis
) -> None:
    scope = thread_scope(1, 7)
    for _ in range(3):
        assert not (await store.record(scope, POLICY)).open
        clock.now += 100
    clock.now += 350  # the first run left the 600 s window; the next two are in it
    assert not (await store.record(scope, POLICY)).open
    tripped = await store.record(scope, POLICY)
    assert (tripped.open, tripped.tripped) == (True, True)
    refused = await store.record(scope, POLICY)
    assert (refused.open, refused.tripped) == (True, False)
    assert await redis.zcard(breakers.HITS_KEY.format(scope=scope)) == 4, "refused runs are not counted"
    await redis.delete(breakers.OPEN_KEY.format(scope=scope))  # what the TTL does after 30 minutes
    clock.now += POLICY.window_s
    assert not (await store.record(scope, POLICY)).open
    assert 0 < await redis.pttl(breakers.HITS_KEY.format(scope=scope)) <= (POLICY.window_s + 60) * 1000


async def test_a_retried_job_counts_once(store: BreakerStore, clock: Clock) -> None:
    for _ in range(POLICY.limit + 3):  # arq's tries of one job
        assert not (await store.record(thread_scope(1, 8), POLICY, "check:1:abc:tests")).open
        clock.now += 30
    assert not (await store.record(thread_scope(1, 8), POLICY, "check:1:def:tests")).open


async def test_workers_racing_past_the_limit_report_one_trip(store: BreakerStore) -> None:
    verdicts = await asyncio.gather(*(store.record(thread_scope(1, 9), POLICY) for _ in range(12)))
    assert sum(not v.open for v in verdicts) == POLICY.limit
    assert sum(v.tripped for v in verdicts) == 1


# -- K2: ping-pong between a bot on a user account and us -------------------------------------------


def comment(n: int, *, ours: bool) -> dict[str, Any]:
    """A real issue_comment.created, as the other bot (a user account) or as our App's bot."""
    payload = copy.deepcopy(fixture_json("issue_comment.created.1.json"))
    payload["installation"] = {"id": INSTALLATION_ID}
    payload["comment"]["id"] = 10_000 + n
    if ours:
        payload["comment"]["body"] = (
            "Autofix could not reproduce this. Reply `/autofix retry` to try again.\n"
        )
        payload["sender"] = payload["comment"]["user"] = {"login": "autofix[bot]", "type": "Bot", "id": 1}
    else:
        payload["comment"]["body"] = "/autofix retry\nBeep: retrying as asked.\n"
        payload["sender"] = payload["comment"]["user"] = {"login": "ping-bot", "type": "User", "id": 2}
    return payload


async def test_k2_fifty_alternating_bot_comments_run_at_most_n_jobs(
    store: BreakerStore, trips: Trips
) -> None:
    settings = make_settings()
    config = parse_repo_config(None)
    decisions = []
    for n in range(50):
        for job in route("issue_comment", comment(n, ours=n % 2 == 1), settings).jobs:
            args = job.args
            why = await check_breakers(
                store,
                repo_id=args["repo_id"],
                number=args["number"],
                installation_id=args["installation_id"],
                job_id=job.job_id,
            )
            decisions.append(decide_gate(GateFacts(kind="command", circuit_open=why), config))

    assert len(decisions) == 25, "our own replies never route (K1); the other bot's all do"
    ran = [d for d in decisions if d.action is Action.FIX]
    assert len(ran) == THREAD.limit
    assert {d.reason for d in decisions if d not in ran} == {"circuit_open"}
    assert [t.scope for t in trips.seen] == ["thread"], "one notification, not one per refusal"


async def test_an_installation_wide_storm_pauses_the_installation(
    store: BreakerStore, redis: Redis, trips: Trips
) -> None:
    whys = [
        await check_breakers(store, repo_id=100 + n % 7, number=n, installation_id=INSTALLATION_ID)
        for n in range(INSTALLATION.limit + 5)
    ]
    assert whys[: INSTALLATION.limit] == [None] * INSTALLATION.limit
    assert all(w is not None and "installation" in w for w in whys[INSTALLATION.limit :])
    [trip] = trips.seen
    assert (trip.scope, trip.installation_id) == ("installation", INSTALLATION_ID)
    tripping_repo = 100 + INSTALLATION.limit % 7
    assert await RepoState(redis, tripping_repo).paused(), "the repository that tripped it, by name"
    other = RepoState(redis, 999, INSTALLATION_ID)
    assert await other.paused(), "every repository of the installation"
    assert (await other.pause_reason() or "").startswith("Circuit breaker: 61 runs on this installation")
    assert not await RepoState(redis, 999, 1).paused(), "other installations carry on"

    await resume_installation(redis, INSTALLATION_ID)
    assert not await other.paused()
    assert await check_breakers(store, repo_id=999, number=1, installation_id=INSTALLATION_ID) is None


async def test_a_paused_repository_says_why(redis: Redis) -> None:
    state = RepoState(redis, 5)
    assert await state.pause_reason() is None
    await state.set_paused(True)
    assert await state.pause_reason() == "paused by a maintainer"
    await state.set_paused(True, "Circuit breaker: too many runs.")
    assert await state.pause_reason() == "Circuit breaker: too many runs."


def test_the_gate_refuses_with_circuit_open_before_anything_else_is_asked() -> None:
    facts = GateFacts(kind="check", check_name="nope", fixable=False, circuit_open="Circuit breaker: x.")
    decision = decide_gate(facts, parse_repo_config("checks: [tests]"))
    assert (decision.action, decision.reason, decision.detail) == (
        Action.SKIP,
        "circuit_open",
        "Circuit breaker: x.",
    )
