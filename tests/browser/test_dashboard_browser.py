"""The dashboard in a real browser (headless chromium): sign-in with the token and with GitHub, the
overview's numbers, a job page that follows a job live (driven by hand, and a real end-to-end job run
by an arq worker against the local GitHub and the scripted model), pause and resume, audit search.

Pages are found by the `data-testid`s of the dashboard's page contract, and every state change is
checked twice: on the page, and in Redis where the rest of autofix reads it."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect
from redis.asyncio import Redis

from app import stats
from app.audit import append_audit
from app.job_records import JobStore
from app.repo_state import GLOBAL_PAUSE, RepoState
from jobs import names
from jobs.worker import build_worker
from tests.browser.support import CLIENT_SECRET, USER, Dashboard, mark_page, shot, sign_in, still_marked
from tests.fakes.anthropic_messages import Turn, reply, tool_use
from tests.fakes.github.api_oauth import oauth_of
from tests.fakes.github.webhooks import Hookshot
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED
from tests.pipeline_support import FILES, real_pytest_log
from tests.support import APP_ID, OWNER, SECRET

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

REPO_ID = 7301
REPO = "octo-org/widgets"


async def test_an_anonymous_visit_is_sent_to_sign_in(page: Page) -> None:
    await page.goto("/dashboard/repos")
    await expect(page).to_have_url("/login?next=%2Fdashboard%2Frepos")
    await expect(page.get_by_test_id("token-form")).to_be_visible()
    await expect(page.get_by_test_id("sign-in-github")).to_be_visible()
    await expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    api = await page.request.get("/api/overview", max_redirects=0)  # the JSON API answers, never redirects
    assert api.status == 401
    assert "application/json" in api.headers["content-type"]


async def test_sign_in_with_the_token_and_out_again(page: Page) -> None:
    await page.goto("/dashboard/audit")  # → /login?next=/dashboard/audit
    token = page.locator("[data-testid=token-form] input[name=token]")
    await token.fill("not-the-token")
    await page.get_by_test_id("sign-in-token").click()
    await expect(page.get_by_test_id("login-error")).to_contain_text("not the dashboard's token")
    await expect(page.get_by_test_id("signed-in-as")).to_have_count(0)

    await sign_in(page, "/dashboard/audit")  # the refused attempt kept nobody signed in; now the right one
    await expect(page.get_by_test_id("audit-table")).to_be_visible()
    await expect(page.get_by_test_id("signed-in-as")).to_have_text("token")
    await shot(page, "signed-in")

    await page.get_by_test_id("sign-out").click()
    await expect(page).to_have_url("/login")
    await page.goto("/dashboard")
    await expect(page).to_have_url("/login?next=%2Fdashboard")


async def test_sign_in_with_github(page: Page, dashboard: Dashboard) -> None:
    oauth = oauth_of(dashboard.github.state)
    oauth.add_client(dashboard.settings.github_client_id or "", CLIENT_SECRET)
    oauth.approver = USER  # signed in at the local github.com, and approves the App
    await page.goto("/dashboard/jobs")
    await page.get_by_test_id("sign-in-github").click()  # → github's authorize → the callback → next
    await expect(page).to_have_url("/dashboard/jobs")
    await expect(page.get_by_test_id("signed-in-as")).to_have_text(USER)
    await expect(page.get_by_test_id("jobs-table")).to_be_visible()
    await shot(page, "mona")

    await page.get_by_test_id("sign-out").click()
    oauth.approver = "eve"  # a GitHub user who is not in AUTOFIX_DASHBOARD_USERS
    await page.goto("/dashboard")
    await page.get_by_test_id("sign-in-github").click()
    await expect(page.get_by_test_id("login-error")).to_contain_text("(eve)")
    await page.goto("/dashboard")
    await expect(page).to_have_url("/login?next=%2Fdashboard")


async def test_the_overview_shows_what_the_worker_counted(page: Page, redis: Redis) -> None:
    now = time.time()
    today, earlier = stats.day_of(now), stats.day_of(now - 9 * 86_400)
    counts = (
        stats.Counts()
        .add(today, "jobs:fix_check_run", 4)
        .add(today, "outcome:fix_check_run:pr_opened", 3)
        .add(today, "outcome:fix_check_run:skipped", 1)  # skipped: not an attempt
        .add(today, "proven", 2)
        .add(today, "prs:opened", 3)
        .add(today, "prs:merged", 2)
        .add(today, "prs:closed", 1)
        .add(today, "dollars:claude-sonnet-4-6", 1.25)
        .add(today, "tokens:claude-sonnet-4-6", 52_000)
        .add(earlier, "jobs:fix_issue", 2)
        .add(earlier, "outcome:fix_issue:unproven", 2)
        .add(earlier, "dollars:claude-sonnet-4-6", 0.5)
    )
    await stats.apply(redis, counts)
    await stats.add_time_to_pr(redis, 95, now=now)
    await stats.heartbeat(redis, "worker-a", {"queue": names.FIX_QUEUE}, now=now)
    store = JobStore(redis)
    await store.start("check:1:abc:tests", "fix_check_run", REPO, {"repo_id": REPO_ID})  # running
    await redis.zadd(names.FIX_QUEUE, {"check:1:abc:tests": now * 1000, "check:2:def:tests": now * 1000})

    await sign_in(page)
    tile = page.get_by_test_id
    await expect(tile("overview")).to_be_visible()
    await expect(tile("tile-running").locator("b")).to_have_text("1")
    await expect(tile("tile-queued").locator("b")).to_have_text("1")  # two ready, one of them running
    await expect(tile("tile-queue-depth").locator("b")).to_have_text("2")
    await expect(tile("tile-done-today").locator("b")).to_have_text("4")
    # 2 proven of 5 attempted in 30 days: today's 4 minus the skipped one, and the 2 issues
    await expect(tile("tile-proven-rate").locator("b")).to_have_text("40.0%")
    await expect(tile("tile-prs").locator("b")).to_have_text("2 / 1")
    await expect(tile("tile-ttp").locator("b")).to_have_text("1 min 35 s")
    await expect(tile("tile-spend-today").locator("b")).to_have_text("$1.25")
    month = 1.25 + (0.5 if earlier[:7] == today[:7] else 0)
    await expect(tile("tile-spend-month").locator("b")).to_have_text(f"${month:.2f}")
    await expect(tile("tile-workers").locator("b")).to_have_text("1")
    await expect(tile("paused-banner")).to_have_count(0)
    jobs_chart = tile("chart-jobs")
    await expect(jobs_chart.locator(f'rect[data-day="{today}"][data-series="pr_opened"]')).to_have_count(1)
    await expect(jobs_chart.locator(f'rect[data-day="{earlier}"][data-series="unproven"]')).to_have_count(1)
    await expect(tile("chart-spend").locator(f'rect[data-day="{today}"]')).to_have_count(1)


async def test_a_job_page_follows_phase_changes_without_reloading(page: Page, redis: Redis) -> None:
    store = JobStore(redis)
    job_id = f"check:{REPO_ID}:{uuid.uuid4().hex[:12]}:tests"
    record = await store.start(job_id, "fix_check_run", REPO, {"repo_id": REPO_ID, "check_run_id": 5})
    async with store.phase(record, "evidence") as p:
        p.outcome = "report"

    await sign_in(page, "/dashboard/jobs")
    await page.locator(f'tr[data-job-id="{job_id}"] a').click()
    timeline = page.get_by_test_id("phase-timeline")
    await expect(page.get_by_test_id("job-status")).to_have_text("running")
    await expect(timeline.locator("li")).to_have_count(1)
    await expect(timeline.locator('li[data-phase="evidence"][data-status="done"]')).to_have_count(1)
    await mark_page(page)

    gate = await store.begin(record, "gate")
    await expect(timeline.locator('li[data-phase="gate"][data-status="running"]')).to_have_count(1)
    await shot(page, "gate-running")
    gate.outcome = "allowed"
    await store.end(record, gate)
    await expect(timeline.locator('li[data-phase="gate"][data-status="done"]')).to_contain_text("allowed")
    await store.skip(record, "reproduce", "not_needed")
    await expect(timeline.locator('li[data-phase="reproduce"][data-status="skipped"]')).to_have_count(1)
    await store.finish(record, "skipped", "Nothing to fix.")
    await expect(page.get_by_test_id("job-status")).to_have_text("done · skipped")
    assert await still_marked(page), "the page was reloaded; it should have updated in place"


@pytest.mark.timeout(180)
async def test_a_job_page_follows_an_end_to_end_job_live(
    page: Page, dashboard: Dashboard, redis: Redis, tmp_path: Any
) -> None:
    """A failed check on the local GitHub → its webhook → the web app → Redis → a real arq worker that
    runs fix_check_run with the real local sandbox, while the job page is open. The model's first
    answer is held back until the page has shown the job running, so the page must follow the rest
    of the job (the sandbox, the PR) by itself."""
    gh, model = dashboard.github, dashboard.model
    repo = gh.sim.create_repo(OWNER, f"live-{uuid.uuid4().hex[:8]}", files=FILES)
    sha = subprocess.run(  # noqa: ASYNC221  # set-up
        ["git", "--git-dir", str(repo.path), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    log = real_pytest_log(tmp_path, FILES)
    release = threading.Event()

    def first_answer(body: dict[str, Any]) -> Turn:  # runs in the model server's thread
        release.wait(60)
        return reply(tool_use("editor", {"command": "view", "path": "calc/stats.py"}))

    edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
    model.state.script(
        first_answer, reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", DIAGNOSIS))
    )

    hooks = Hookshot(gh.state, f"{dashboard.url}/webhooks/github", SECRET, APP_ID)
    try:
        gh.sim.fail_check(repo, sha, "tests", log=log)
        delivered = hooks.flush()
    finally:
        hooks.close()
    assert [d.status_code for d in delivered if d.event == "check_run"] == [202]

    worker = build_worker(dashboard.settings, dashboard.redis_url, burst=True, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        await sign_in(page, "/dashboard/jobs")
        row = page.locator(f'tr[data-job-id^="check:{repo.id}:"]')
        for _ in range(100):  # the list is not live: look again until the worker has taken the job
            if await row.count():
                break
            await asyncio.sleep(0.2)
            await page.reload()
        await row.locator("a").click()
        status, timeline = page.get_by_test_id("job-status"), page.get_by_test_id("phase-timeline")
        await expect(status).to_have_text("running")
        await expect(timeline.locator('li[data-status="running"]')).to_have_count(1)
        await expect(timeline.locator('li[data-phase="publish"]')).to_have_count(0)
        await mark_page(page)
        await shot(page, "running")

        release.set()  # the model answers; the job goes on to the sandbox and the PR
        await expect(status).to_have_text("done · pr_opened", timeout=90_000)
        await expect(timeline.locator('li[data-phase="validate"][data-status="done"]')).to_have_count(1)
        await expect(timeline.locator('li[data-phase="publish"][data-status="done"]')).to_have_count(1)
        await expect(timeline.locator('li[data-status="running"]')).to_have_count(0)
        assert await still_marked(page), "the page was reloaded; it should have followed the job by itself"
        await shot(page, "done")
    finally:
        release.set()
        await asyncio.wait_for(running, 60)
        await worker.close()

    prs = [i for i in repo.issues.values() if i.pull is not None]
    assert len(prs) == 1, "the job the page followed opened its PR"
    await page.reload()  # the server-rendered page agrees with what the live updates showed
    await expect(page.get_by_test_id("job-status")).to_have_text("done · pr_opened")


async def test_pause_and_resume_a_repository(page: Page, redis: Redis) -> None:
    store = JobStore(redis)  # the dashboard knows a repository from its jobs
    await store.start(f"check:{REPO_ID}:aaa:tests", "fix_check_run", REPO, {"repo_id": REPO_ID, "repo": REPO})
    state = RepoState(redis, REPO_ID)

    await sign_in(page, "/dashboard/repos")
    status = page.get_by_test_id(f"repo-status-{REPO_ID}")
    await expect(status).to_have_text("active")
    await page.get_by_test_id(f"pause-{REPO_ID}").click()
    await expect(status).to_have_text("paused")
    assert await state.paused()
    await expect(page.get_by_test_id(f"resume-{REPO_ID}")).to_be_enabled()
    await shot(page, "paused")

    await page.get_by_test_id(f"resume-{REPO_ID}").click()
    await expect(status).to_have_text("active")
    assert not await state.paused()

    await page.get_by_test_id("pause-all").click()  # → the overview, with its banner
    await expect(page.get_by_test_id("paused-banner")).to_be_visible()
    assert await redis.exists(GLOBAL_PAUSE)
    assert await state.paused(), "a global pause pauses every repository"
    await shot(page, "paused-everywhere")
    await page.get_by_test_id("resume-all").click()
    await expect(page.get_by_test_id("overview")).to_be_visible()
    await expect(page.get_by_test_id("paused-banner")).to_have_count(0)
    assert not await redis.exists(GLOBAL_PAUSE)
    assert not await state.paused()


async def test_audit_search_filters_the_rows(page: Page, redis: Redis) -> None:
    alpha = [
        await append_audit(redis, "webhook", event="check_run", repo="octo-org/alpha", delivery="d-1"),
        await append_audit(
            redis, "job_done", repo="octo-org/alpha", job_id="check:1:a:tests", outcome="pr_opened"
        ),
    ]
    beta = [
        await append_audit(redis, "webhook", event="issues", repo="octo-org/beta", delivery="d-2"),
        await append_audit(redis, "gate_refused", repo="octo-org/beta", reason="paused"),
        await append_audit(redis, "job_done", repo="octo-org/beta", job_id="issue:2:7", outcome="unproven"),
    ]
    rows = page.locator("[data-testid=audit-table] tr[data-audit-id]")

    await sign_in(page, "/dashboard/audit")
    await expect(rows).to_have_count(5)
    search = page.locator("input[name=q]")
    await search.fill("Octo-Org/Beta")  # any case
    await search.press("Enter")
    await expect(page).to_have_url("/dashboard/audit?q=Octo-Org%2FBeta")
    await expect(rows).to_have_count(3)
    assert {await r.get_attribute("data-audit-id") for r in await rows.all()} == set(beta)
    await shot(page, "beta")

    await search.fill("pr_opened")
    await search.press("Enter")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-audit-id", alpha[1])

    await search.fill("no-such-thing")
    await search.press("Enter")
    await expect(rows).to_have_count(0)
    await expect(page.get_by_test_id("audit-table")).to_contain_text("No entries match")
