"""The weekly report, posted as an issue in AUTOFIX_REPORT_REPO on AUTOFIX_REPORT_WEEKDAY at
AUTOFIX_REPORT_HOUR (UTC), through the App's installation on that repository.

The window is the seven whole UTC days before the day of the run (the day counters are kept by UTC
day, so its numbers are exact); the issue is titled by the ISO week most of the window falls in,
"Autofix weekly report 2026-W47", and labelled `autofix:report`.

Posting is find-or-create, so a re-run (a second worker, a restart, a run by hand) never posts
twice: a Redis key remembers the issue of each week, and when it is missing (a new Redis) the
repository's issues carrying the label are searched for the title before one is created.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.cron import CronJob, cron
from redis.asyncio import Redis

from app.audit import append_audit
from app.github.client import GitHubApp, Installation
from app.github.errors import GitHubError
from app.github.rest import body, fetch_pages, request
from app.report import fetch_report, iso_week, render_md
from app.settings import Settings

log = logging.getLogger("autofix.weekly_report")

LABEL = "autofix:report"
TITLE = "Autofix weekly report {week}"
POSTED = "autofix:report:posted:{repo}:{week}"  # -> the issue's number
POSTED_TTL_S = 400 * 86_400
DAYS = 7


def build_window(now: float) -> tuple[float, float, str]:
    """(since, until, ISO week): the seven whole UTC days before `now`'s day, named by their middle day."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=DAYS)
    return start.timestamp(), today.timestamp() - 1, iso_week((start + timedelta(days=DAYS // 2)).date())


async def fetch_installation(app: GitHubApp, owner: str, repo: str) -> Installation:
    data = body(await app.call(request("GET", f"/repos/{owner}/{repo}/installation")))
    return app.installation(int(data["id"]))


async def find_report_issue(inst: Installation, owner: str, repo: str, title: str) -> dict[str, Any] | None:
    """The issue already posted with `title` (open or closed), if any."""
    query = {"state": "all", "labels": LABEL}
    async with aclosing(fetch_pages(inst.read, f"/repos/{owner}/{repo}/issues", query)) as issues:
        async for issue in issues:
            if issue.get("title") == title and "pull_request" not in issue:
                return issue
    return None


async def create_report_issue(
    inst: Installation, owner: str, repo: str, title: str, text: str
) -> dict[str, Any]:
    fields = {"title": title, "body": text, "labels": [LABEL]}
    return body(await inst.write(request("POST", f"/repos/{owner}/{repo}/issues", json=fields)))


async def post_report(app: GitHubApp, redis: Redis, target: str, now: float) -> dict[str, Any]:
    """Find or create this week's report issue in `target` (owner/name)."""
    since, until, week = build_window(now)
    title, key = TITLE.format(week=week), POSTED.format(repo=target, week=week)
    known = await redis.get(key)
    if known is not None:
        return {"posted": False, "week": week, "number": int(known)}
    owner, name = target.split("/", 1)
    inst = await fetch_installation(app, owner, name)
    issue = await find_report_issue(inst, owner, name, title)
    posted = issue is None
    if issue is None:
        report = await fetch_report(redis, since=since, now=until)
        issue = await create_report_issue(inst, owner, name, title, render_md(report, title=title))
        await append_audit(redis, "report.posted", repo=target, number=issue["number"], week=week)
    await redis.set(key, int(issue["number"]), ex=POSTED_TTL_S)
    return {"posted": posted, "week": week, "number": int(issue["number"]), "url": issue.get("html_url")}


async def weekly_report(ctx: dict[str, Any]) -> dict[str, Any]:
    """The cron job. GitHub errors are logged and returned, not raised: next week's run is unaffected."""
    settings: Settings = ctx["settings"]
    app: GitHubApp | None = ctx.get("github")
    target = settings.autofix_report_repo
    if target is None:
        return {"posted": False, "problem": "AUTOFIX_REPORT_REPO is not set"}
    if app is None:
        log.warning("weekly report not posted: no GitHub App credentials", extra={"repo": target})
        return {"posted": False, "problem": "no GitHub App credentials"}
    try:
        result = await post_report(app, ctx["redis"], target, app.clock())
    except GitHubError as e:
        log.warning("weekly report not posted: %s", e, extra={"repo": target})
        return {"posted": False, "problem": str(e)}
    log.info("weekly report %s", "posted" if result["posted"] else "already posted", extra={"repo": target})
    return result


def cron_jobs(settings: Settings) -> list[CronJob]:
    """For the fix worker's `Worker(cron_jobs=…, timezone=UTC)`; none without AUTOFIX_REPORT_REPO."""
    if settings.autofix_report_repo is None:
        return []
    return [
        cron(
            weekly_report,
            name="weekly_report",
            weekday=settings.autofix_report_weekday,
            hour=settings.autofix_report_hour,
            minute=0,
            second=0,
            unique=True,
            timeout=300,
            max_tries=1,
        )
    ]
