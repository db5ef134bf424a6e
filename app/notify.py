"""Notifications to chat and to other systems, for what people should hear about without watching the
dashboard: a PR opened, a fix that needs a human, a budget reached, a repository paused by a circuit
breaker.

Two optional targets, both webhooks whose URL is a secret (it carries the credential):

- AUTOFIX_NOTIFY_SLACK_URL, a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat…):
  `{"text": …}` in mrkdwn.
- AUTOFIX_NOTIFY_WEBHOOK_URL, a generic JSON webhook:
  `{"event", "repo", "job_id", "url", "summary", "at"}`.

Deciding is pure (`notification_for(record)`, `circuit_breaker_paused(repo, reason)`); sending
(`post_notification`) tries each target twice with a 5 s timeout and never raises: a lost
notification is logged (never with its URL) and the job goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from app.job_records import JobRecord
from app.settings import Settings

log = logging.getLogger("autofix.notify")

PR_OPENED, NEEDS_HUMAN, BUDGET_REACHED, REPO_PAUSED = (
    "pr_opened",
    "needs_human",
    "budget_reached",
    "repo_paused",
)
TITLES = {
    PR_OPENED: "PR opened",
    NEEDS_HUMAN: "a fix needs a human",
    BUDGET_REACHED: "budget reached",
    REPO_PAUSED: "repository paused",
}
NEEDS_HUMAN_OUTCOMES = ("unproven", "draft_unproven")  # a comment, or a draft PR marked unproven
SPEND_LIMIT = "spend_limit"  # Anthropic refused for money: the owner raises a limit or adds credit
TIMEOUT_S = 5.0
TRIES = 2
BACKOFF_S = 1.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Notification:
    event: str  # one of TITLES
    repo: str
    job_id: str | None
    url: str | None  # where a person acts: the PR, the issue, the broken PR
    summary: str  # one sentence
    at: float


def web_root(api_url: str) -> str:
    """Where people browse: api.github.com -> github.com; GHES `…/api/v3` -> `…`."""
    root = api_url.rstrip("/")
    if root == "https://api.github.com":
        return "https://github.com"
    return root.removesuffix("/api/v3")


def _thread_url(record: JobRecord, web: str) -> str | None:
    """The conversation the job answered on: its PR's, else the failing PR's, else the issue's."""
    pr = record.checkpoints.get("pull_request")
    if isinstance(pr, dict) and pr.get("url"):
        return str(pr["url"])
    prs = record.request.get("pull_requests") or []
    if prs:
        return f"{web}/{record.repo}/pull/{prs[0]}"
    number = record.request.get("issue_number") or record.request.get("number")
    return f"{web}/{record.repo}/issues/{number}" if number else None


def notification_for(record: JobRecord, *, web: str = "https://github.com") -> Notification | None:
    """What a finished job's record should be announced as, if anything."""
    if record.status != "done":
        return None
    event = None
    if record.outcome == PR_OPENED:
        event = PR_OPENED
    elif record.outcome in NEEDS_HUMAN_OUTCOMES:
        event = NEEDS_HUMAN
    elif record.outcome == SPEND_LIMIT:
        event = BUDGET_REACHED
    elif record.outcome in ("skipped", "cancelled"):
        gate = record.phase_named("gate")
        if gate is not None and (gate.outcome or "").startswith("budget_"):
            event = BUDGET_REACHED
    if event is None:
        return None
    summary = record.reason or TITLES[event]
    return Notification(
        event, record.repo, record.job_id, _thread_url(record, web), summary, record.updated_at
    )


def circuit_breaker_paused(repo: str, reason: str, *, now: float | None = None) -> Notification:
    return Notification(REPO_PAUSED, repo, None, None, reason, time.time() if now is None else now)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped so text cannot make links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(note: Notification) -> dict[str, Any]:
    text = f"*Autofix: {TITLES[note.event]}* in `{_mrkdwn(note.repo)}`\n{_mrkdwn(note.summary)}"
    if note.url:
        text += f"\n<{note.url.replace('|', '%7C')}|view on GitHub>"
    if note.job_id:
        text += f"\njob `{_mrkdwn(note.job_id)}`"
    return {"text": text}


def render_webhook(note: Notification) -> dict[str, Any]:
    return {
        "event": note.event,
        "repo": note.repo,
        "job_id": note.job_id,
        "url": note.url,
        "summary": note.summary,
        "at": _iso(note.at),
    }


Render = Callable[[Notification], dict[str, Any]]


def _targets(settings: Settings) -> list[tuple[str, str, Render]]:
    out: list[tuple[str, str, Render]] = []
    if settings.autofix_notify_slack_url is not None:
        out.append(("slack", settings.autofix_notify_slack_url.get_secret_value(), render_slack))
    if settings.autofix_notify_webhook_url is not None:
        out.append(("webhook", settings.autofix_notify_webhook_url.get_secret_value(), render_webhook))
    return out


async def _post(transport: httpx.AsyncBaseTransport, url: str, body: dict[str, Any]) -> int:
    """POST through the transport itself: httpx's client would log the request line, URL and all."""
    timeout = httpx.Timeout(TIMEOUT_S).as_dict()
    request = httpx.Request("POST", url, json=body, extensions={"timeout": timeout})
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response.status_code


async def _deliver(transport: httpx.AsyncBaseTransport, target: str, url: str, body: dict[str, Any],
                   note: Notification, sleep: Sleep) -> bool:  # fmt: skip
    context = {"target": target, "event": note.event, "repo": note.repo, "job_id": note.job_id}
    for attempt in range(1, TRIES + 1):
        try:
            status = await _post(transport, url, body)
        except httpx.HTTPError as e:  # its text may hold the URL: only the type is logged
            why = type(e).__name__
        else:
            if 200 <= status < 300:
                return True
            why = f"HTTP {status}"
            if status < 500 and status != 429:
                break  # the request itself is wrong (a revoked hook): another try would not help
        if attempt < TRIES:
            await sleep(BACKOFF_S * attempt)
    log.warning("notification not delivered to the %s URL: %s", target, why, extra=context)
    return False


async def post_notification(
    settings: Settings,
    note: Notification,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Send `note` to every configured target; the number that took it. Never raises."""
    targets = _targets(settings)
    if not targets:
        return 0
    delivered, sender = 0, transport or httpx.AsyncHTTPTransport()
    try:
        for target, url, render in targets:
            delivered += await _deliver(sender, target, url, render(note), note, sleep)
    except Exception as e:  # a notification must never fail the job
        context = {"event": note.event, "repo": note.repo, "job_id": note.job_id}
        log.warning("notification failed: %s", type(e).__name__, extra=context)
    finally:
        if transport is None:
            await sender.aclose()
    return delivered


async def notify_finished(settings: Settings, record: JobRecord) -> None:
    """At a job's end: announce it when its outcome is one people want to hear about."""
    note = notification_for(record, web=web_root(settings.github_api_url))
    if note is not None:
        await post_notification(settings, note)


async def notify_paused(settings: Settings, repo: str, reason: str) -> None:
    """A circuit breaker paused `repo`."""
    await post_notification(settings, circuit_breaker_paused(repo, reason))


class Trip(Protocol):
    """What jobs/breakers.py tells its `on_trip` hook (only the fields read here)."""

    @property
    def scope(self) -> str: ...  # "thread" | "installation"

    @property
    def why(self) -> str: ...


def on_breaker_trip(settings: Settings, repo: str) -> Callable[[Trip], Awaitable[None]]:
    """The `on_trip` hook of a job's BreakerStore: a tripped installation breaker pauses the
    repositories (`repo` is the job's); a thread's breaker closes by itself and is not announced."""

    async def hook(trip: Trip) -> None:
        if trip.scope == "installation":
            await notify_paused(settings, repo, trip.why)

    return hook
