"""LocalSandbox: a checkout at the commit (from a path or a clone URL), `sandbox_runner run` in a
subprocess, its result.json files read back. Real git, real runner, real pytest."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.github.client import GitHubApp, Installation
from app.github.git_auth import clone_url
from app.settings import Settings
from jobs.sandbox.actions import ActionsSandbox
from jobs.sandbox.base import Limits, RunTimedOut, SandboxUnavailable
from jobs.sandbox.counted import CountedSandbox
from jobs.sandbox.factory import build_limits, build_sandbox
from jobs.sandbox.local import LocalSandbox, build_runner_argv, check_candidate_ids, read_results
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome
from tests.fakes.github import gitstore
from tests.support import OWNER, LocalGitHub
from tests.test_sandbox_actions import CALC, COMMAND, FAILING, FIX, TEST

LIMITS = Limits(timeout_s=120, wait_s=100)


@pytest.fixture
def inst(gh: LocalGitHub, app_settings: Settings, redis: Redis) -> Installation:
    return GitHubApp(app_settings.model_copy(update={"github_api_url": gh.url}), redis).installation(
        gh.installation_id
    )


def git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "calc")
    return root, git(root, "rev-parse", "HEAD")


async def test_baseline_and_candidates_from_a_local_path(project: tuple[Path, str], tmp_path: Path) -> None:
    root, sha = project
    evil = FIX.replace("calc.py", ".github/workflows/x.yml")
    sandbox = LocalSandbox(cache=tmp_path / "cache")
    baseline, fix, refused = await sandbox.run(
        str(root), sha, None, COMMAND, {"fix": FIX, "evil": evil}, failing=FAILING, limits=LIMITS
    )
    assert baseline.candidate_id == BASELINE
    assert baseline.outcome_of(FAILING[0]) is Outcome.FAILED
    assert (fix.candidate_id, fix.exit_code, fix.outcome_of(FAILING[0])) == ("fix", 0, Outcome.PASSED)
    assert refused.patch is not None
    assert (refused.candidate_id, refused.patch.applied, refused.exit_code) == ("evil", False, None)
    assert git(root, "status", "--porcelain") == ""  # the source checkout is never touched


async def test_a_checkout_from_a_private_clone_url_with_the_installation_token(
    gh: LocalGitHub, inst: Installation, app_settings: Settings, redis: Redis
) -> None:
    repo = gh.sim.create_repo(OWNER, "calc", {"calc.py": CALC, "test_calc.py": TEST})
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    url = clone_url(gh.url, OWNER, "calc")
    with pytest.raises(SandboxUnavailable, match="could not read Username"):
        await LocalSandbox().run(url, sha, None, COMMAND, {}, limits=LIMITS)
    token = await inst.token()
    leak = 'python -c "import os, sys; sys.exit(3 if sys.argv[1] in str(os.environ) else 0)" ' + token
    [baseline] = await LocalSandbox(token=inst.token).run(url, sha, None, leak, {}, limits=LIMITS)
    assert baseline.exit_code == 0  # the tests ran, and the token is nowhere in their environment
    built = build_sandbox(app_settings.model_copy(update={"github_api_url": gh.url}), inst, redis)
    assert isinstance(built, CountedSandbox)
    assert isinstance(built.inner, LocalSandbox)
    [again] = await built.run(f"{OWNER}/calc", sha, None, COMMAND, {}, failing=FAILING, limits=LIMITS)
    assert again.outcome_of(FAILING[0]) is Outcome.FAILED


def test_settings_choose_the_backend_and_its_limits(app_settings: Settings, redis: Redis) -> None:
    inst = GitHubApp(app_settings, redis).installation(1)
    actions = app_settings.model_copy(
        update={"autofix_sandbox": "actions", "autofix_sandbox_poll": 7, "autofix_sandbox_workflow": "sb.yml"}
    )
    built = build_sandbox(actions, inst, redis)
    assert isinstance(built, CountedSandbox)
    assert isinstance(built.inner, ActionsSandbox)
    assert (built.inner.poll_s, built.inner.workflow, built.backend) == (7.0, "sb.yml", "actions")
    tuned = app_settings.model_copy(
        update={"autofix_sandbox_timeout": 90, "autofix_sandbox_parallel": 4, "autofix_sandbox_wait": 300}
    )
    assert build_limits(tuned) == Limits(timeout_s=90.0, parallel=4, wait_s=300.0)


async def test_the_worker_environment_does_not_reach_the_tests(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sha = project
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN probe")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-probe")
    names = "{'GITHUB_PRIVATE_KEY', 'ANTHROPIC_API_KEY'}"
    probe = f'python -c "import os, sys; sys.exit(3 if {names} & set(os.environ) else 0)"'
    [baseline] = await LocalSandbox().run(str(root), sha, None, probe, {}, limits=LIMITS)
    assert baseline.exit_code == 0


async def test_an_unknown_commit_is_unavailable(project: tuple[Path, str]) -> None:
    root, _ = project
    with pytest.raises(SandboxUnavailable, match="cannot check out 0123456789ab"):
        await LocalSandbox().run(str(root), "0123456789ab" * 3 + "0123", None, COMMAND, {})


async def test_the_wait_limit_kills_the_runner_and_its_children(project: tuple[Path, str]) -> None:
    root, sha = project
    marker = f"autofix-wait-probe-{time.time_ns()}"
    started = time.monotonic()
    with pytest.raises(RunTimedOut):
        await LocalSandbox().run(
            str(root), sha, None, f"sleep 300 # {marker}", {}, limits=Limits(timeout_s=600, wait_s=3)
        )
    assert time.monotonic() - started < 30
    assert running(marker) == []


def running(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in text and state != "Z":
            found.append(text)
    return found


def test_candidate_ids_must_be_file_stems() -> None:
    check_candidate_ids({"c1": "", "fix-2.a": ""})
    for bad in ("baseline", "../x", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(ValueError, match="candidate id"):
            check_candidate_ids({bad: ""})


def test_runner_argv_and_results(tmp_path: Path) -> None:
    argv = build_runner_argv(
        sys.executable, tmp_path / "r", "pip install .", "pytest", [tmp_path / "c1.patch"],
        tmp_path / "out", Limits(timeout_s=90.5, parallel=3), ["t::a"], tmp_path / "cache",
    )  # fmt: skip
    assert argv[1:4] == ["-m", "sandbox_runner", "run"]
    pairs = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert (pairs["--setup"], pairs["--timeout"], pairs["--parallel"]) == ("pip install .", "90", "3")
    assert (pairs["--failing"], pairs["--patch"]) == ("t::a", str(tmp_path / "c1.patch"))
    run = RunResult("c1", PatchStatus(True), 0, 1.0, tests=[TestOutcome("t::a", Outcome.PASSED)])
    (tmp_path / "out" / "c1").mkdir(parents=True)
    (tmp_path / "out" / "c1" / "result.json").write_text(__import__("json").dumps(run.to_json()))
    assert read_results(tmp_path / "out") == [run]
    assert read_results(tmp_path / "missing") == []
