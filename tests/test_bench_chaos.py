"""The chaos bench's own arithmetic: what it publishes is only as good as these counts."""

from __future__ import annotations

import random
from typing import Any

from bench import chaos
from tests.fakes.github import GitHubState


def _log(answers: list[tuple[float, str, str, int]], faults: list[tuple[float, str, str, str]]) -> Any:
    log = chaos.RequestLog(app=None, state=GitHubState())
    log.answers, log.faults = answers, faults
    return log


def test_recovery_is_the_time_until_the_same_request_succeeds() -> None:
    comments, reactions = "/repos/o/r/issues/1/comments", "/repos/o/r/issues/comments/5/reactions"
    config = "/repos/o/r/contents/.github/autofix.yml"
    log = _log(
        answers=[
            (10.0, "POST", comments, 502),
            (11.0, "POST", "/repos/o/r/issues/2/comments", 201),  # another thread: not a recovery
            (12.0, "GET", comments, 200),  # another method: not a recovery
            (13.0, "POST", comments, 429),  # limited again: not a recovery
            (14.5, "POST", comments, 201),
            (20.0, "POST", reactions, 403),
            (21.5, "GET", config, 404),  # the slow answer itself: no config file is a normal answer
        ],
        faults=[
            (10.0, "POST", comments, "status"),
            (20.0, "POST", reactions, "x"),
            (21.0, "GET", config, "slow"),
        ],
    )
    recovery = log.recovery()
    assert recovery["status"] == {"median_s": 4.5, "max_s": 4.5}
    assert recovery["x"] == {"median_s": 1.5, "max_s": 1.5}  # never recovered: the rest of the run
    assert recovery["slow"] == {"median_s": 0.5, "max_s": 0.5}


def test_the_plan_sends_every_event_and_the_asked_share_again() -> None:
    events = [("issue_comment", {"comment": {"id": i}}) for i in range(1, 91)] + [("check_run", {"id": 7})]
    plan = chaos.plan_deliveries(events, dup_rate=0.1, rng=random.Random(3))
    assert len(plan) == 100
    assert len({d.guid for d in plan}) == 91  # every event once, nine resent with the same id
    assert {d.command_id for d in plan} == {0, *range(1, 91)}  # a check run carries no command
    assert plan[:91] != sorted(plan[:91], key=lambda d: d.command_id)  # out of order
