"""From nothing to a pull request, the way a maintainer does it: `autofix serve` with no GitHub App,
"Register GitHub App" (the manifest flow against the local GitHub), "Install", label an issue, get a PR.

Everything is real except GitHub and the model: the `autofix serve` process (set-up pages, then web,
worker and the local sandbox), a real Redis, the local GitHub's signed webhooks to the hook URL the
manifest named, and the scripted model server.
"""

from __future__ import annotations

import html
import re
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis

from app.setup.credentials import ENV_FILE
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.api_manifest import registered
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, KEY, Served
from tests.pipeline_support import FILES, show
from tests.support import AutofixProcess, LocalGitHub, cli_env, free_port, wait_until
from tests.test_fix_issue_e2e import ISSUE, REPRO_TEST

MAINTAINER = "octo-maintainer"


def form_of(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


def test_register_install_label_and_get_a_pr(
    gh: LocalGitHub, model: Served[Any], redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(
        home,
        AUTOFIX_DATA_DIR=data,
        AUTOFIX_PORT=port,
        AUTOFIX_PUBLIC_URL=base,
        GITHUB_API_URL=gh.url,
        ANTHROPIC_BASE_URL=model.url,
        ANTHROPIC_API_KEY=KEY,
        REDIS_URL=redis_url,
        AUTOFIX_LOG_FORMAT="json",
    )
    registered(gh.state).web_user = MAINTAINER
    with sync_redis.Redis.from_url(redis_url) as r:
        r.flushdb()

    with AutofixProcess("serve", env=env, cwd=tmp_path) as serve, httpx.Client(timeout=20) as browser:
        setup = serve.wait_http(f"{base}/setup")
        assert "Register GitHub App" in setup.text
        handoff = browser.post(f"{base}/setup/start", data={"name": "Autofix E2E"})
        action, fields = form_of(handoff.text)
        created = browser.post(action, data=fields)  # GitHub: "Create GitHub App"
        assert created.status_code == 302
        done = browser.get(created.headers["location"])  # back to us with the code
        assert done.status_code == 200, done.text
        install = re.search(r'href="([^"]+)" data-testid="install"', done.text).group(1)  # type: ignore[union-attr]

        assert stat.S_IMODE((data / ENV_FILE).stat().st_mode) == 0o600
        serve.wait_http(f"{base}/readyz", timeout=30)  # serve restarted as the registered App

        repo = gh.sim.create_repo(
            MAINTAINER, "demo", files=FILES | {"tests/test_stats.py": "def test_nothing():\n    pass\n"}
        )
        gh.sim.set_permission(repo, MAINTAINER, "admin")
        installed = browser.get(install, follow_redirects=True)  # GitHub: "Install", then our setup_url
        assert installed.status_code == 200
        assert "Autofix is installed" in installed.text

        issue = gh.sim.open_issue(repo, "mean() divides by the wrong count", ISSUE, user=MAINTAINER)
        edit = {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED}
        repro = {"command": "create", "path": "tests/test_issue_repro.py", "file_text": REPRO_TEST}
        model.state.script(
            reply(tool_use("editor", repro)),
            reply(tool_use("submit_diagnosis", DIAGNOSIS | {"where": "tests/test_issue_repro.py"})),
            reply(tool_use("editor", edit)),
            reply(tool_use("submit_diagnosis", DIAGNOSIS)),
        )
        gh.sim.label_issue(repo, issue.number, "autofix", user=MAINTAINER)

        def pull_request() -> Any:
            return next((i for i in repo.issues.values() if i.pull is not None), None)

        pr = wait_until(pull_request, 90, "the bot's pull request", interval=0.5)
        assert serve.stop() == 0

    assert pr.pull.head_ref == f"autofix/issue-{issue.number}"
    assert (pr.body or "").startswith(f"Fixes #{issue.number}")
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
    [app] = [a for a in gh.state.apps.values() if a.slug == "autofix-e2e"]
    assert pr.user.login == f"{app.slug}[bot]"
    deliveries = [d for d in gh.state.hook_deliveries if d.event == "issues"]
    assert deliveries
    assert all(d.status_code == 202 for d in deliveries)
    assert "Traceback" not in serve.stderr()
    time.sleep(0)  # keep the process object alive until here for its stderr
