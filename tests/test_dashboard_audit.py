"""The audit log page: newest first, paged with XREVRANGE, searched by substring over the kind and
every field value; and a repository's page: effective config (or its errors), budgets, open bot PRs."""

from __future__ import annotations

import re
from pathlib import Path

from redis.asyncio import Redis

from app.audit import append_audit
from app.budgets import BudgetLedger
from app.dashboard.audit_view import fetch_audit_page
from app.repo_state import RepoState
from tests.pipeline_support import FILES
from tests.support import OWNER, LocalGitHub
from tests.test_dashboard_support import dash_settings, dashboard_client, sign_in


def audit_ids(html: str) -> list[str]:
    table = re.search(r'data-testid="audit-table".*?</table>', html, re.S)
    assert table
    return re.findall(r'<tr data-audit-id="([^"]+)"', table.group(0))


async def test_the_audit_log_pages_and_searches(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    ids = []
    for n in range(120):
        repo = "octo/app" if n % 3 else "octo/Lib"
        ids.append(await append_audit(redis, "pr.opened" if n % 2 else "command.run", repo=repo, number=n))
    ids.append(await append_audit(redis, "dashboard.pause", user="alice", repo="octo/<b>"))
    newest_first = list(reversed(ids))
    async with dashboard_client(dash_settings(redis_url, tmp_path), redis_url) as client:
        await sign_in(client)
        first = (await client.get("/dashboard/audit")).text
        assert audit_ids(first) == newest_first[:50]
        assert "octo/\\u003cb\\u003e" in first  # values go through |tojson: escaped, never markup
        assert "<b>" not in first
        older = re.search(r'data-testid="audit-older" href="([^"]+)"', first)
        assert older
        second = (await client.get(older.group(1).replace("&amp;", "&"))).text
        assert audit_ids(second) == newest_first[50:100]
        found = (await client.get("/dashboard/audit", params={"q": "OCTO/LIB"})).text
        assert audit_ids(found) == [i for n, i in enumerate(ids[:120]) if n % 3 == 0][::-1]
        by_user = (await client.get("/dashboard/audit", params={"q": "alice"})).text
        assert audit_ids(by_user) == [ids[-1]]
        by_kind = await client.get("/dashboard/audit", params={"q": "command.run", "before": "not-an-id"})
        assert len(audit_ids(by_kind.text)) == 50
    page = await fetch_audit_page(redis, "pr.opened", None, size=100, scan=30)
    assert page.scan_limit_hit
    assert len(page.entries) == 15
    assert page.next_before == newest_first[29]
    last = await fetch_audit_page(redis, "", newest_first[110])
    assert [e["id"] for e in last.entries] == newest_first[111:]
    assert last.next_before is None


async def test_a_repository_page_shows_config_budgets_and_open_prs(
    gh: LocalGitHub, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    good = gh.sim.create_repo(OWNER, "good", files=FILES)
    bad = gh.sim.create_repo(OWNER, "bad", files={".github/autofix.yml": "limits:\n  jobs_per_dya: 3\n"})
    settings = dash_settings(redis_url, tmp_path, github_api_url=gh.url, github_private_key=gh.private_key)
    await BudgetLedger(redis, good.id).record_attempt("check:1")
    await BudgetLedger(redis, good.id).record_spend("check:1", 0.42)
    await RepoState(redis, good.id).add_open_pr(7)
    async with dashboard_client(settings, redis_url) as client:
        await sign_in(client)
        listed = (await client.get("/dashboard/repos")).text
        shown = (await client.get(f"/dashboard/repos/{good.id}")).text
        broken = (await client.get(f"/dashboard/repos/{bad.id}")).text
        missing = await client.get("/dashboard/repos/1")
        overview = (await client.get("/api/overview")).json()
    assert f'<tr data-repo-id="{good.id}">' in listed
    assert f'<tr data-repo-id="{bad.id}">' in listed
    assert "From .github/autofix.yml" in shown
    assert "<tr><th>Dollars, today</th><td>$0.42 of $" in shown
    assert "<tr><th>Fix attempts, today</th><td>1 of " in shown
    assert f'href="{gh.url}/{good.full_name}/pull/7"' in shown
    assert 'data-testid="config-errors"' in broken
    assert "jobs_per_dya" in broken
    assert missing.status_code == 404
    assert overview["spend_today"]["budget"] is not None, "a repo's budget, once read, counts in the overview"


async def test_github_errors_on_the_repos_page_are_shown_not_raised(
    redis: Redis, redis_url: str, tmp_path: Path, app_key: str
) -> None:
    settings = dash_settings(
        redis_url, tmp_path, github_api_url="http://127.0.0.1:9", github_private_key=app_key
    )
    async with dashboard_client(settings, redis_url) as client:
        await sign_in(client)
        page = await client.get("/dashboard/repos")
    assert page.status_code == 200
    assert 'data-testid="repos-error"' in page.text
    assert "Could not list the App&#39;s installations" in page.text
