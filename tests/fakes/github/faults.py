"""Fault injection per route: the errors, waits and dropped connections GitHub really produces.

A test arms a fault for requests whose method and path match; each fires `times` times, rules are
tried in the order they were added, and every firing is recorded:

    state.faults.add("POST", r"/issues/\\d+/comments$", faults.secondary_limit(retry_after=30))
    state.faults.add("GET", r"/actions/jobs/\\d+/logs$", faults.status(502), times=2)
    state.faults.add("*", r"/pulls", faults.drop())
    ...
    assert state.faults.fired == [("POST", "/repos/o/r/issues/1/comments", "secondary_limit"), ...]

The answers themselves are rendered by pure functions here; `gate.FaultGate` applies them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit"
SERVER_MESSAGES = {
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: (
        "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your "
        "request and contact us if the problem persists."
    ),
}
API_PREFIX = "/api/v3"


@dataclass(frozen=True)
class Fault:
    kind: str  # status, secondary_limit, too_many, primary_limit, latency, drop
    status: int = 0
    retry_after: int | None = None
    reset_in: int = 0
    seconds: float = 0.0
    message: str | None = None


def status(code: int, message: str | None = None) -> Fault:
    """An error answer with GitHub's JSON error body (500, 502, 503, 504, or any other status)."""
    return Fault("status", status=code, message=message or SERVER_MESSAGES.get(code, "Server Error"))


def secondary_limit(retry_after: int | None = None) -> Fault:
    """403 "You have exceeded a secondary rate limit", with `retry-after` when given."""
    return Fault("secondary_limit", status=403, retry_after=retry_after)


def too_many(retry_after: int | None = None) -> Fault:
    """429 with the secondary limit's body, with `retry-after` when given."""
    return Fault("too_many", status=429, retry_after=retry_after)


def primary_limit(reset_in: int = 60) -> Fault:
    """403 "API rate limit exceeded…" with `x-ratelimit-remaining: 0`, resetting in `reset_in` seconds."""
    return Fault("primary_limit", status=403, reset_in=reset_in)


def latency(seconds: float) -> Fault:
    """Answer normally, `seconds` late."""
    return Fault("latency", seconds=seconds)


def drop() -> Fault:
    """Close the connection without answering (the client sees a transport error)."""
    return Fault("drop")


@dataclass
class Rule:
    method: str
    pattern: re.Pattern[str]
    fault: Fault
    times: int
    fired: int = 0


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    fired: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, fault kind)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str, path_regex: str, fault: Fault, times: int = 1) -> Rule:
        """Arm `fault` for the next `times` requests matching `method` ("*" = any) and `path_regex`."""
        rule = Rule(method.upper(), re.compile(path_regex), fault, times)
        with self.lock:
            self.rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one is armed (and count it as fired)."""
        path = path.removeprefix(API_PREFIX) or "/"
        with self.lock:
            for rule in self.rules:
                if rule.fired < rule.times and rule.method in ("*", method) and rule.pattern.search(path):
                    rule.fired += 1
                    self.fired.append((method, path, rule.fault.kind))
                    return rule.fault
        return None

    @property
    def pending(self) -> int:
        """How many firings are still armed."""
        with self.lock:
            return sum(rule.times - rule.fired for rule in self.rules)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()


def render_fault_body(
    fault: Fault, request_id: str, installation_id: int | None, client: str
) -> dict[str, str]:
    """GitHub's JSON body for an error fault."""
    if fault.kind in ("secondary_limit", "too_many"):
        message, docs = SECONDARY_LIMIT.format(request_id=request_id), SECONDARY_DOCS
    elif fault.kind == "primary_limit":
        who = f"installation ID {installation_id}" if installation_id is not None else client
        message, docs = f"API rate limit exceeded for {who}.", PRIMARY_DOCS
    else:
        message, docs = fault.message or "Server Error", "https://docs.github.com/rest"
    return {"message": message, "documentation_url": docs, "status": str(fault.status)}
