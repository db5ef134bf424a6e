"""Shared doubles for the fix pipelines' end-to-end tests: a repository with a failing test, the
scripted model server, and the pipeline's Deps wired to the local GitHub, the model server, the real
LocalSandbox and a real Redis. Fixtures are registered for every module through tests/conftest.py."""

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
from jobs.deps import Deps
from jobs.patch.agent import build_engine
from jobs.sandbox.local import LocalSandbox
from tests.fakes.github.state import Issue, Repo
from tests.github_support import Clock
from tests.patch_support import BUGGY, FIXED, KEY, STATS, TEST, Served, served_anthropic
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
    return repo, check_request(gh, repo, check.id, sha)


def broken_pr(gh: LocalGitHub, tmp_path: Path) -> tuple[Repo, Issue, str, dict[str, Any]]:
    """A repository whose default branch is fine and whose same-repo PR (branch `feature`) breaks
    `mean()`, with its failed check: (repo, the PR, its head sha, the fix_check_run request)."""
    good = FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED)}
    repo = gh.sim.create_repo(OWNER, "demo", files=good)
    sha = gh.sim.commit(repo, "feature", {"calc/stats.py": STATS}, "Rework mean()", "mona")
    pr = gh.sim.open_pr(repo, "feature", title="Rework mean()")
    check = gh.sim.fail_check(repo, sha, "tests", log=real_pytest_log(tmp_path, FILES))
    return repo, pr, sha, check_request(gh, repo, check.id, sha, "feature", [pr.number])


def check_request(
    gh: LocalGitHub, repo: Repo, check_id: int, sha: str, branch: str = "main", prs: list[int] | None = None
) -> dict[str, Any]:
    """The fix_check_run request `app.routing` makes of that check run's webhook."""
    return {
        "repo_id": repo.id,
        "repo": repo.full_name,
        "installation_id": gh.installation_id,
        "check_run_id": check_id,
        "check_name": "tests",
        "head_sha": sha,
        "head_branch": branch,
        "pull_requests": prs or [],
    }


def show(repo: Repo, what: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(repo.path), "show", what], capture_output=True, text=True)
    return done.stdout


def bot_check(gh: LocalGitHub, sha: str) -> Any:
    found = [c for c in gh.state.check_runs.values() if c.name == "Autofix" and c.head_sha == sha]
    assert len(found) == 1
    return found[0]
