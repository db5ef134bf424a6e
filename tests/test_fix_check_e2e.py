"""fix_check_run end to end: the local GitHub, the scripted model server, the real LocalSandbox and a
real Redis. A push breaks a test on the default branch → one proven PR; the same job again makes no
second one; a broken config and an unproven fix end as the maintainer would want to read them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.settings import Settings
from jobs.deps import Deps, build_engine
from jobs.fix_check import fix_check_run
from jobs.publish.state_block import parse_state
from jobs.sandbox.local import LocalSandbox
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.state import Repo
from tests.github_support import Clock
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, KEY, STATS, TEST, Served, served_anthropic
from tests.support import OWNER, LocalGitHub

CONFIG = "candidates: 1\ntest: python -m pytest -q -p no:cacheprovider\npull_request: {draft: false}\n"
FILES = {
    "calc/__init__.py": "",
    "calc/stats.py": STATS,
    "tests/test_stats.py": TEST,
    ".github/autofix.yml": CONFIG,
}


@pytest.fixture
def model() -> Iterator[Served[Any]]:
    with served_anthropic() as served:
        yield served


@pytest.fixture
def deps(gh: LocalGitHub, app_settings: Settings, redis: Redis, model: Served[Any], tmp_path: Path) -> Deps:
    key = SecretStr(KEY)
    settings = app_settings.model_copy(
        update={"github_api_url": gh.url, "anthropic_base_url": model.url, "anthropic_api_key": key}
    )
    clock = Clock()  # GitHub's 1 s spacing between writes passes without waiting
    github = GitHubApp(settings, redis, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    cache = tmp_path / "sandbox-cache"
    return Deps(
        settings=settings,
        redis=redis,
        github=github,
        sandbox=lambda inst: LocalSandbox(cache=cache, token=inst.token),
        engine=lambda config: build_engine(settings, config),
        scratch=tmp_path / "work",
    )


def real_pytest_log(tmp_path: Path, files: dict[str, str]) -> str:
    """The output of really running the tests on `files`, as CI would print it."""
    root = tmp_path / "ci"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout
    return done.stdout


def failing_check(gh: LocalGitHub, tmp_path: Path, files: dict[str, str]) -> tuple[Repo, dict[str, Any]]:
    repo = gh.sim.create_repo(OWNER, "demo", files=files)
    sha = subprocess.run(
        ["git", "--git-dir", str(repo.path), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, files))
    request = {
        "repo_id": repo.id,
        "repo": repo.full_name,
        "installation_id": gh.installation_id,
        "check_run_id": check.id,
        "check_name": "tests",
        "head_sha": sha,
        "head_branch": "main",
        "pull_requests": [],
    }
    return repo, request


def show(repo: Repo, what: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(repo.path), "show", what], capture_output=True, text=True)
    return done.stdout


def bot_check(gh: LocalGitHub, sha: str) -> Any:
    found = [c for c in gh.state.check_runs.values() if c.name == "Autofix" and c.head_sha == sha]
    assert len(found) == 1
    return found[0]


def fix_script() -> list[Any]:
    return [
        reply(tool_use("editor", {"command": "view", "path": "calc/stats.py"})),
        reply(
            tool_use(
                "editor",
                {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED},
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    ]


async def test_a_broken_default_branch_gets_one_proven_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    model.state.script(*fix_script())
    job_id = f"check:{repo.id}:{request['head_sha']}:tests"

    result = await fix_check_run({"deps": deps, "job_id": job_id}, request)

    assert result["outcome"] == "pr_opened", result
    (pr,) = [i for i in repo.issues.values() if i.pull is not None]
    assert pr.pull is not None
    assert pr.pull.head_ref.startswith("autofix/v1-")
    assert pr.pull.base_ref == "main"
    assert pr.title == "fix(stats): mean divides by len(values) + 1"
    assert "| `tests/test_stats.py::test_mean` | failed | passed |" in (pr.body or "")
    state = parse_state(pr.body)
    assert state is not None
    assert state["job_id"] == job_id
    assert FIXED in show(repo, f"{pr.pull.head_ref}:calc/stats.py")
    check = bot_check(gh, request["head_sha"])
    assert (check.status, check.conclusion) == ("completed", "success")

    again = await fix_check_run({"deps": deps, "job_id": job_id + ":dup"}, request)  # a duplicate job
    assert again["outcome"] == "skipped"
    assert "already proposes a fix" in again["reason"]
    assert len([i for i in repo.issues.values() if i.pull is not None]) == 1


async def test_a_broken_config_is_reported_on_the_check_run(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    files = FILES | {".github/autofix.yml": "candidates: lots\n"}
    _, request = failing_check(gh, tmp_path, files)
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert result["outcome"] == "config_error"
    check = bot_check(gh, request["head_sha"])
    assert (check.conclusion, check.output["title"]) == ("action_required", ".github/autofix.yml: 1 problem")
    assert "line 1: `candidates`: expected integer from 1 to 8, got 'lots'" in check.output["summary"]
    assert model.state.bodies == []  # no model call was made


async def test_no_proven_candidate_means_no_pr(
    gh: LocalGitHub, deps: Deps, model: Served[Any], tmp_path: Path
) -> None:
    repo, request = failing_check(gh, tmp_path, FILES)
    wrong = FIXED.replace("len(values)", "len(values) * 2")
    model.state.script(
        reply(
            tool_use(
                "editor",
                {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": wrong},
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )
    result = await fix_check_run({"deps": deps, "job_id": "j"}, request)
    assert result["outcome"] == "unproven", result
    assert not [i for i in repo.issues.values() if i.pull is not None]
    check = bot_check(gh, request["head_sha"])
    assert check.conclusion == "action_required"
