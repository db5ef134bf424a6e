"""classify() and decide(): GitHub's rate-limit rules and the error -> outcome table, without I/O."""

from __future__ import annotations

import pytest

from app.github.errors import (
    Forbidden,
    GitHubError,
    NotFound,
    Outcome,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
    Unreachable,
    backoff,
    classify,
    decide,
    unreachable,
)

NOW = 1_800_000_000.0
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def test_success_is_not_an_error() -> None:
    assert classify(200, {}, "", now=NOW) is None
    assert classify(302, {}, "", now=NOW) is None


def test_primary_limit_waits_until_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 120)}
    for status in (403, 429):
        error = classify(status, headers, "API rate limit exceeded for installation ID 1.", now=NOW)
        assert isinstance(error, RateLimited)
        assert error.retry_at == NOW + 121


def test_primary_limit_with_a_reset_in_the_past_retries_soon() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)}
    error = classify(403, headers, "API rate limit exceeded", now=NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + 1


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_honours_retry_after(status: int) -> None:
    error = classify(status, {"retry-after": "30", "x-ratelimit-remaining": "4000"}, SECONDARY, now=NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + 30


@pytest.mark.parametrize(("attempt", "wait"), [(1, 60), (2, 120), (3, 240), (10, 900)])
def test_secondary_limit_without_headers_waits_60s_then_longer(attempt: int, wait: float) -> None:
    for status, message in ((403, SECONDARY), (429, "Too Many Requests")):
        error = classify(status, {}, message, now=NOW, attempt=attempt, jitter=0.99)
        assert isinstance(error, RateLimited)
        assert error.retry_at == NOW + wait, "jitter never shortens the 60 s minimum"


def test_permission_403_is_not_a_rate_limit() -> None:
    error = classify(
        403, {"x-ratelimit-remaining": "4999"}, "Resource not accessible by integration", now=NOW
    )
    assert type(error) is Forbidden
    assert decide(error).outcome is Outcome.GIVE_UP


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, Unauthorized),
        (404, NotFound),
        (410, NotFound),
        (409, Unprocessable),
        (422, Unprocessable),
        (418, GitHubError),
    ],
)
def test_status_codes_map_to_their_errors(status: int, kind: type[GitHubError]) -> None:
    error = classify(status, {"X-GitHub-Request-Id": "ABC:123"}, "m", now=NOW)
    assert type(error) is kind
    assert error.status == status
    assert error.request_id == "ABC:123"


def test_server_errors_back_off_exponentially_with_bounded_jitter() -> None:
    waits = []
    for attempt in (1, 2, 3, 4):
        error = classify(502, {}, "Bad Gateway", now=NOW, attempt=attempt, jitter=0.0)
        assert isinstance(error, ServerError)
        waits.append(error.retry_at - NOW)
    assert waits == [2, 4, 8, 16]
    jittered = classify(503, {}, "", now=NOW, attempt=4, jitter=0.999)
    assert isinstance(jittered, ServerError)
    assert 8 <= jittered.retry_at - NOW < 16
    assert backoff(30, 2, 300, 0) == 300


def test_unreachable_is_retryable() -> None:
    error = unreachable("ConnectTimeout", now=NOW, attempt=2)
    assert isinstance(error, Unreachable)
    assert decide(error).outcome is Outcome.RETRY


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RateLimited("limit", NOW + 60), Outcome.RETRY),
        (ServerError("502", NOW + 2), Outcome.RETRY),
        (Unreachable("timeout", NOW + 2), Outcome.RETRY),
        (Forbidden("Resource not accessible by integration", 403), Outcome.GIVE_UP),
        (Unauthorized("Bad credentials", 401), Outcome.FAIL),
        (NotFound("Not Found", 404), Outcome.FAIL),
        (Unprocessable("Reference already exists", 422), Outcome.FAIL),
        (GitHubError("I'm a teapot", 418), Outcome.FAIL),
    ],
)
def test_the_outcome_table(error: GitHubError, outcome: Outcome) -> None:
    decision = decide(error)
    assert decision.outcome is outcome
    assert error.message in decision.reason
    assert (decision.retry_at is not None) is (outcome is Outcome.RETRY)


def test_a_retry_past_the_deadline_fails_instead() -> None:
    decision = decide(RateLimited("limit", NOW + 3600), max_retry_at=NOW + 600)
    assert decision.outcome is Outcome.FAIL
    assert "deadline" in decision.reason
    assert decide(RateLimited("limit", NOW + 60), max_retry_at=NOW + 600).retry_at == NOW + 60
