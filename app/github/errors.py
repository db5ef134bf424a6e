"""What went wrong on GitHub, as a small exception tree, and what a job does about it. Pure.

`classify()` turns a response (status, headers, body) into one of the exceptions below, following
GitHub's documented rules for rate limits:

- primary limit: 403/429 with `x-ratelimit-remaining: 0` -> wait until `x-ratelimit-reset`;
- secondary limit: 403/429 with `retry-after` -> wait that long; without it, at least 60 s, then
  exponentially longer on each further try;
- 5xx and connection failures: bounded exponential backoff with jitter.

`decide()` is the one table that maps an error to an outcome: retry at a time (the job becomes an
arq retry, it never sleeps), give up and tell the people on the thread, or fail the job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

SECONDARY_MIN_S = 60.0
SECONDARY_MAX_S = 15 * 60.0
SERVER_BASE_S = 2.0
SERVER_MAX_S = 5 * 60.0
RESET_MARGIN_S = 1.0


class GitHubError(Exception):
    """A call to GitHub failed. `status` is the HTTP status (0 when no answer came)."""

    def __init__(self, message: str, status: int = 0, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id


class Unauthorized(GitHubError):
    """401: the token or JWT was refused (expired, revoked, wrong key, clock skew)."""


class Forbidden(GitHubError):
    """403 that is not a rate limit: the App lacks a permission or the resource is off limits."""


class NotFound(GitHubError):
    """404, and 410 Gone: the thing is not there, or not visible to this installation."""


class Unprocessable(GitHubError):
    """422 or 409: GitHub understood the request and refused it (already exists, conflict, invalid)."""


class Retryable(GitHubError):
    """An error that goes away with time; `retry_at` is the epoch second to try again."""

    def __init__(self, message: str, retry_at: float, status: int = 0, request_id: str | None = None) -> None:
        super().__init__(message, status, request_id)
        self.retry_at = retry_at


class RateLimited(Retryable):
    """A primary or secondary rate limit."""


class ServerError(Retryable):
    """5xx from GitHub."""


class Unreachable(Retryable):
    """No answer: connection refused or reset, or a timeout."""


def backoff(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff for the `attempt`-th try (1-based), with `jitter` in [0, 1) taking off up
    to half, so that many jobs failing together do not come back together."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay * (1 - jitter / 2)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(
    status: int,
    headers: Mapping[str, str],
    message: str,
    *,
    now: float,
    attempt: int = 1,
    jitter: float = 0.0,
) -> GitHubError | None:
    """The error a response means, or None for success. `message` is GitHub's `message` field."""
    if status < 400:
        return None
    request_id = _header(headers, "x-github-request-id")
    if status in (403, 429):
        remaining, reset = (
            _header(headers, "x-ratelimit-remaining"),
            _number(_header(headers, "x-ratelimit-reset")),
        )
        retry_after = _number(_header(headers, "retry-after"))
        if remaining == "0" and reset is not None:
            return RateLimited(
                f"primary rate limit: {message}", max(reset, now) + RESET_MARGIN_S, status, request_id
            )
        if retry_after is not None:
            return RateLimited(
                f"secondary rate limit: {message}", now + max(retry_after, 0), status, request_id
            )
        if status == 429 or "secondary rate limit" in message.lower():
            wait = backoff(attempt, SECONDARY_MIN_S, SECONDARY_MAX_S, 0.0)  # never less than 60 s
            return RateLimited(f"secondary rate limit: {message}", now + wait, status, request_id)
        return Forbidden(message, status, request_id)
    if status == 401:
        return Unauthorized(message, status, request_id)
    if status in (404, 410):
        return NotFound(message, status, request_id)
    if status in (409, 422):
        return Unprocessable(message, status, request_id)
    if status >= 500:
        wait = backoff(attempt, SERVER_BASE_S, SERVER_MAX_S, jitter)
        return ServerError(f"GitHub answered {status}: {message}", now + wait, status, request_id)
    return GitHubError(f"GitHub answered {status}: {message}", status, request_id)


def unreachable(reason: str, *, now: float, attempt: int = 1, jitter: float = 0.0) -> Unreachable:
    return Unreachable(
        f"GitHub unreachable: {reason}", now + backoff(attempt, SERVER_BASE_S, SERVER_MAX_S, jitter)
    )


class Outcome(enum.Enum):
    RETRY = "retry"  # run the job again at `retry_at`
    GIVE_UP = "give_up"  # stop, and say why on the issue or PR (a human must act)
    FAIL = "fail"  # stop; the job is recorded as failed


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str
    retry_at: float | None = None


# the one table: checked in order, first match wins
_TABLE: tuple[tuple[type[GitHubError], Outcome, str], ...] = (
    (Retryable, Outcome.RETRY, "GitHub asked us to wait"),
    (Forbidden, Outcome.GIVE_UP, "the App is not allowed to do this; check its permissions"),
    (Unauthorized, Outcome.FAIL, "GitHub refused the App's credentials"),
    (NotFound, Outcome.FAIL, "the repository or object is gone or not visible to the App"),
    (Unprocessable, Outcome.FAIL, "GitHub refused the request"),
    (GitHubError, Outcome.FAIL, "unexpected GitHub error"),
)


def decide(error: GitHubError, *, max_retry_at: float | None = None) -> Decision:
    """What a job does about `error`. A retry later than `max_retry_at` (the job's deadline) fails."""
    outcome, reason = next((o, r) for kind, o, r in _TABLE if isinstance(error, kind))
    if isinstance(error, Retryable):
        if max_retry_at is not None and error.retry_at > max_retry_at:
            return Decision(Outcome.FAIL, f"{reason}, past the job's deadline: {error.message}")
        return Decision(Outcome.RETRY, f"{reason}: {error.message}", error.retry_at)
    return Decision(outcome, f"{reason}: {error.message}")
