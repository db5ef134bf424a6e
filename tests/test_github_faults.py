"""GitHub's failures, as the local GitHub produces them, inside a real worker: the job comes back at
the time GitHub named and finishes, or stops without retrying when retrying cannot help."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from redis.asyncio import Redis

from app.audit import read_audit
from app.github.contents import read_file
from app.settings import Settings
from tests.fakes.github import faults
from tests.github_support import run_one_job, stored_text
from tests.support import OWNER, LocalGitHub

CONTENTS = r"/repos/[^/]+/demo/contents/"


async def read_config(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A job that reads a file through the worker's GitHub client, as the pipeline will."""
    inst = ctx["github"].installation(request["installation_id"], attempt=ctx["job_try"])
    return {"text": await read_file(inst, OWNER, "demo", "setup.cfg"), "try": ctx["job_try"]}


@pytest.fixture
def gh(gh: LocalGitHub) -> LocalGitHub:
    gh.state.token_format = "long"  # GitHub's stateless tokens, with dots: no code may assume a shape
    gh.sim.create_repo(OWNER, "demo", files={"setup.cfg": "[tool]\n"})
    return gh


def _at(gh: LocalGitHub, settings: Settings) -> Settings:
    return settings.model_copy(update={"github_api_url": gh.url})


def _assert_no_secret_leaked(gh: LocalGitHub, settings: Settings, *texts: str) -> None:
    issued = list(gh.state.tokens)
    assert issued, "the test did mint tokens"
    seen = "\n".join(texts) + "\n".join(repr(r.headers) for r in gh.state.requests)
    for token in issued:
        assert token not in seen
        assert token.split(".")[0] not in seen  # nor its first segment
    pem_body = (settings.private_key() or "").splitlines()[1]
    assert pem_body not in seen


@pytest.mark.parametrize(
    ("fault", "least_wait"),
    [
        (faults.secondary_limit(retry_after=1), 1.0),
        (faults.too_many(retry_after=1), 1.0),
        (faults.primary_limit(reset_in=1), 1.0),
        (faults.status(502), 1.0),  # first backoff: 2 s less up to half of jitter
        (faults.drop(), 1.0),
    ],
    ids=["secondary-403", "secondary-429", "primary", "502", "dropped-connection"],
)
async def test_transient_failures_are_retried_when_github_said_and_the_job_finishes(
    gh: LocalGitHub,
    app_settings: Settings,
    redis: Redis,
    redis_url: str,
    fault: faults.Fault,
    least_wait: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gh.state.faults.add("GET", CONTENTS, fault)

    worker, result, elapsed = await run_one_job(
        _at(gh, app_settings), redis, redis_url, read_config, {"installation_id": gh.installation_id}
    )

    assert [kind for _, _, kind in gh.state.faults.fired] == [fault.kind]
    assert result["s"] is True
    assert result["r"] == {"text": "[tool]\n", "try": 2}
    assert worker.jobs_retried == 1
    assert elapsed >= least_wait, "the retry waited instead of hammering GitHub"
    _assert_no_secret_leaked(gh, app_settings, caplog.text, await stored_text(redis))


async def test_a_permission_403_is_not_retried(
    gh: LocalGitHub, app_settings: Settings, redis: Redis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gh.state.faults.add(
        "GET", CONTENTS, faults.status(403, "Resource not accessible by integration"), times=5
    )

    worker, result, _ = await run_one_job(
        _at(gh, app_settings), redis, redis_url, read_config, {"installation_id": gh.installation_id}
    )

    assert len(gh.state.faults.fired) == 1
    assert worker.jobs_retried == 0
    assert "Resource not accessible by integration" in result["r"]["gave_up"]
    assert [e["kind"] for e in await read_audit(redis)] == ["job.give_up"]
    _assert_no_secret_leaked(gh, app_settings, caplog.text, await stored_text(redis))
