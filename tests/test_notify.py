"""Notifications: which finished jobs are announced, the two payloads, and delivery that never fails
the job nor logs the webhook URLs (they are secrets)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from redis.asyncio import Redis

from app import notify
from app.job_records import JobRecord, PhaseRecord
from app.logs import configure_logging
from app.notify import Notification, circuit_breaker_paused, notification_for, render_slack, render_webhook
from app.settings import Settings
from jobs.breakers import INSTALLATION, BreakerStore, check_breakers
from tests.support import make_settings

SLACK = "https://hooks.slack.test/services/T000/B000/s3cr3tSLACKpath"
HOOK = "https://hooks.example.test/autofix?token=s3cr3tHOOKtoken"
AT = 1_795_248_000.0  # 2026-11-21T08:00:00Z


def job(outcome: str, *, status: str = "done", gate: str | None = None, reason: str = "A sentence.",
        request: dict[str, Any] | None = None, checkpoints: dict[str, Any] | None = None,
        kind: str = "fix_check_run") -> JobRecord:  # fmt: skip
    phases = [PhaseRecord("gate", "done", AT - 60, AT - 50, gate)] if gate else []
    return JobRecord(
        "check:1:abc:tests", kind, "octo-org/demo", AT - 300, AT, status, outcome, reason,
        request or {}, phases, checkpoints or {},
    )  # fmt: skip


PR: dict[str, Any] = {"number": 12, "url": "https://github.com/octo-org/demo/pull/12", "created": True}


@pytest.mark.parametrize(
    ("record", "event", "url"),
    [
        (job("pr_opened", checkpoints={"pull_request": PR}), "pr_opened", PR["url"]),
        (job("unproven", request={"pull_requests": [7]}), "needs_human", "https://github.com/octo-org/demo/pull/7"),
        (job("unproven", kind="fix_issue", request={"issue_number": 3}), "needs_human",
         "https://github.com/octo-org/demo/issues/3"),
        (job("draft_unproven", checkpoints={"pull_request": PR}), "needs_human", PR["url"]),
        (job("skipped", gate="budget_dollars_per_day"), "budget_reached", None),
        (job("skipped", gate="budget_jobs_per_hour", request={"pull_requests": [7]}), "budget_reached",
         "https://github.com/octo-org/demo/pull/7"),
        (job("skipped", gate="budget_installation_dollars_per_day"), "budget_reached", None),
        (job("spend_limit", request={"pull_requests": [7]}), "budget_reached",
         "https://github.com/octo-org/demo/pull/7"),
    ],
)  # fmt: skip
def test_these_outcomes_are_announced(record: JobRecord, event: str, url: str | None) -> None:
    note = notification_for(record)
    assert note is not None
    assert (note.event, note.repo, note.job_id, note.url, note.summary, note.at) == (
        event, "octo-org/demo", "check:1:abc:tests", url, "A sentence.", AT,
    )  # fmt: skip


@pytest.mark.parametrize(
    "record",
    [
        job("skipped", gate="not_fixable"),
        job("skipped", gate="paused"),
        job("cancelled", gate="superseded"),
        job("pr_updated", checkpoints={"pull_request": PR}),
        job("flaky"),
        job("cannot_reproduce"),
        job("sandbox_error"),
        job("pr_opened", status="running"),
        job("unproven", status="failed"),
    ],
)
def test_other_outcomes_are_not(record: JobRecord) -> None:
    assert notification_for(record) is None


def test_a_ghes_thread_links_to_its_own_web_root() -> None:
    note = notification_for(
        job("unproven", request={"pull_requests": [7]}), web=notify.web_root("https://ghe.corp/api/v3")
    )
    assert note is not None
    assert note.url == "https://ghe.corp/octo-org/demo/pull/7"
    assert notify.web_root("https://api.github.com") == "https://github.com"


def test_the_payloads() -> None:
    note = Notification(
        "pr_opened", "octo-org/demo", "j1", PR["url"], "Opened #12 with a fix proven in the sandbox.", AT
    )
    assert render_webhook(note) == {
        "event": "pr_opened",
        "repo": "octo-org/demo",
        "job_id": "j1",
        "url": PR["url"],
        "summary": "Opened #12 with a fix proven in the sandbox.",
        "at": "2026-11-21T08:00:00Z",
    }
    assert render_slack(note) == {
        "text": "*Autofix: PR opened* in `octo-org/demo`\nOpened #12 with a fix proven in the sandbox.\n"
        f"<{PR['url']}|view on GitHub>\njob `j1`"
    }


def test_slack_text_cannot_make_links_or_mentions() -> None:
    note = circuit_breaker_paused(
        "octo-org/demo", "3 failures in a row <!channel> & <https://evil|x>", now=AT
    )
    text = render_slack(note)["text"]
    assert text == (
        "*Autofix: repository paused* in `octo-org/demo`\n3 failures in a row &lt;!channel&gt; &amp; "
        "&lt;https://evil|x&gt;"
    )
    assert render_webhook(note)["job_id"] is None


@pytest.fixture
def both() -> Settings:
    return make_settings(autofix_notify_slack_url=SLACK, autofix_notify_webhook_url=HOOK)


@pytest.fixture
def hooks() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def assert_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert "s3cr3t" not in text, record.getMessage()


async def test_both_targets_get_their_payload(
    both: Settings, hooks: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="autofix")
    slack = hooks.post(SLACK).respond(200, text="ok")
    generic = hooks.post(HOOK).respond(204)
    record = job("pr_opened", checkpoints={"pull_request": PR}, reason="Opened #12.")

    await notify.notify_finished(both, record)

    assert json.loads(slack.calls.last.request.content)["text"].startswith(
        "*Autofix: PR opened* in `octo-org/demo`"
    )
    assert json.loads(generic.calls.last.request.content) == {
        "event": "pr_opened", "repo": "octo-org/demo", "job_id": "check:1:abc:tests", "url": PR["url"],
        "summary": "Opened #12.", "at": "2026-11-21T08:00:00Z",
    }  # fmt: skip
    assert generic.calls.last.request.headers["content-type"] == "application/json"
    assert_no_secret(caplog)


async def test_nothing_is_sent_when_nothing_is_configured_or_nothing_to_say(
    both: Settings, hooks: respx.MockRouter
) -> None:
    route = hooks.post(SLACK).respond(200)
    await notify.notify_finished(make_settings(), job("pr_opened"))
    await notify.notify_finished(both, job("flaky"))
    assert route.call_count == 0


async def test_a_server_error_is_tried_twice_then_logged_without_the_url(
    both: Settings, hooks: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack = hooks.post(SLACK).mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    generic = hooks.post(HOOK).respond(500)
    sleeps = Sleeps()

    delivered = await notify.post_notification(
        both, circuit_breaker_paused("octo-org/demo", "Paused.", now=AT), sleep=sleeps
    )

    assert delivered == 1
    assert (slack.call_count, generic.call_count) == (2, 2)
    assert sleeps.slept == [1.0, 1.0]
    (warning,) = [r for r in caplog.records if r.name == "autofix.notify"]
    assert warning.getMessage() == "notification not delivered to the webhook URL: HTTP 500"
    assert (warning.__dict__["event"], warning.__dict__["repo"]) == ("repo_paused", "octo-org/demo")
    assert_no_secret(caplog)


async def test_a_refused_hook_is_not_retried(both: Settings, hooks: respx.MockRouter) -> None:
    slack = hooks.post(SLACK).respond(404, text="no_service")
    hooks.post(HOOK).respond(200)
    sleeps = Sleeps()
    assert (
        await notify.post_notification(both, circuit_breaker_paused("o/r", "Paused.", now=AT), sleep=sleeps)
        == 1
    )
    assert (slack.call_count, sleeps.slept) == (1, [])


@pytest.mark.parametrize(
    "error", [httpx.ConnectError(f"cannot connect to {SLACK}"), httpx.ReadTimeout(f"timed out: {SLACK}")]
)
async def test_network_errors_never_raise_and_never_show_the_url(
    both: Settings, hooks: respx.MockRouter, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    caplog.set_level(logging.DEBUG)
    hooks.post(SLACK).mock(side_effect=error)
    hooks.post(HOOK).mock(side_effect=error)

    await notify.notify_finished(
        both,
        job("unproven", request={"pull_requests": [7]}),
    )

    messages = [r.getMessage() for r in caplog.records if r.name == "autofix.notify"]
    assert messages == [
        f"notification not delivered to the {t} URL: {type(error).__name__}" for t in ("slack", "webhook")
    ]
    assert_no_secret(caplog)


async def test_a_timeout_is_five_seconds(both: Settings, hooks: respx.MockRouter) -> None:
    seen: list[Any] = []

    def record_timeout(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200)

    hooks.post(SLACK).mock(side_effect=record_timeout)
    hooks.post(HOOK).mock(side_effect=record_timeout)
    await notify.post_notification(both, circuit_breaker_paused("o/r", "Paused.", now=AT))
    assert seen == [{"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}] * 2


def test_the_http_clients_request_lines_with_the_url_are_not_logged() -> None:
    """httpx logs each request's URL at INFO; the app's logging keeps its loggers at WARNING."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("json", "debug")
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_a_tripped_installation_breaker_announces_the_pause(
    both: Settings, hooks: respx.MockRouter, redis: Redis
) -> None:
    """Through the real breakers: the 61st run in 15 minutes pauses the installation, and tells once."""
    generic = hooks.post(HOOK).respond(200)
    slack = hooks.post(SLACK).respond(200)
    store = BreakerStore(redis, on_trip=notify.on_breaker_trip(both, "octo-org/demo"))
    verdicts = [
        await check_breakers(store, repo_id=1, number=None, installation_id=7, job_id=f"j{i}")
        for i in range(INSTALLATION.limit + 3)
    ]

    assert verdicts[: INSTALLATION.limit] == [None] * INSTALLATION.limit
    assert all(v is not None and v.startswith("Circuit breaker") for v in verdicts[INSTALLATION.limit :])
    assert generic.call_count == slack.call_count == 1
    sent = json.loads(generic.calls.last.request.content)
    assert (sent["event"], sent["repo"], sent["job_id"], sent["url"]) == (
        "repo_paused",
        "octo-org/demo",
        None,
        None,
    )
    assert sent["summary"] == verdicts[INSTALLATION.limit]


async def test_a_threads_breaker_is_not_announced(
    both: Settings, hooks: respx.MockRouter, redis: Redis
) -> None:
    route = hooks.post(HOOK).respond(200)
    store = BreakerStore(redis, on_trip=notify.on_breaker_trip(both, "octo-org/demo"))
    verdicts = [
        await check_breakers(store, repo_id=1, number=5, installation_id=None, job_id=f"j{i}")
        for i in range(10)
    ]
    assert verdicts[-1] is not None  # the thread's breaker is open
    assert route.call_count == 0
