"""The evidence phase against the local GitHub: an Actions log, another CI's summary, an expired log,
and an issue's text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.settings import Settings
from jobs.evidence import fetch_check_evidence, issue_evidence
from tests.support import APP_ID, OWNER, LocalGitHub

LOGS = Path(__file__).parent / "fixtures" / "logs"
REAL_LOG = "gha-pytorch-pytest-dynamo-runtimeerror"  # a real pytorch CI job log (see SOURCES.md)


@pytest.fixture
def edge(gh: LocalGitHub, app_settings: Settings, redis: Redis) -> GitHubApp:
    return GitHubApp(app_settings.model_copy(update={"github_api_url": gh.url}), redis)


def head(repo_path: Path) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo_path), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def test_an_actions_check_is_read_from_its_job_log(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    sha = head(repo.path)
    log = (LOGS / f"{REAL_LOG}.log").read_text(encoding="utf-8", errors="replace")
    meta = json.loads((LOGS / f"{REAL_LOG}.meta.json").read_text())
    check = gh.sim.fail_check(repo, sha, "test (default, 1, 5)", log=log)

    evidence = await fetch_check_evidence(edge.installation(gh.installation_id), OWNER, "demo", check.id)

    assert evidence.log_source == "actions_log"
    assert evidence.note is None
    assert evidence.report.failing_tests == meta["failing_tests"]
    assert evidence.report.source["check_name"] == "test (default, 1, 5)"
    assert evidence.report.source["head_sha"] == sha
    assert evidence.report.fingerprint.startswith("v1:")


async def test_another_ci_is_read_from_the_check_runs_summary(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    summary = "FAILED tests/test_calc.py::test_add - assert 3 == 4\n1 failed, 3 passed in 0.12s"
    gh.state.add_app(APP_ID + 1, gh.private_key, slug="circleci-checks")
    check = gh.sim.fail_check(repo, head(repo.path), "circleci: tests", APP_ID + 1, summary=summary)

    evidence = await fetch_check_evidence(edge.installation(gh.installation_id), OWNER, "demo", check.id)

    assert evidence.log_source == "check_output"
    assert evidence.note is not None
    assert "Not a GitHub Actions check" in evidence.note
    assert evidence.report.failing_tests == ["tests/test_calc.py::test_add"]


async def test_an_expired_log_falls_back_to_the_summary_and_says_so(gh: LocalGitHub, edge: GitHubApp) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files={"a.py": "x = 1\n"})
    check = gh.sim.fail_check(repo, head(repo.path), "tests", log="FAILED tests/test_a.py::test_x\n")
    gh.state.actions.jobs[check.id].log = None  # logs are deleted after the retention period

    evidence = await fetch_check_evidence(edge.installation(gh.installation_id), OWNER, "demo", check.id)

    assert evidence.log_source == "check_output"
    assert evidence.note is not None
    assert "expired" in evidence.note


def test_an_issue_with_a_quoted_traceback_names_the_exception_and_frames() -> None:
    body = (
        "Calling mean([]) crashes:\n\n```\nTraceback (most recent call last):\n"
        '  File "/home/me/proj/src/stats.py", line 3, in mean\n'
        "    return sum(xs) / len(xs)\nZeroDivisionError: division by zero\n```\n"
    )
    evidence = issue_evidence("o/r", 12, "mean() of an empty list", body)
    report = evidence.report
    assert (evidence.log_source, report.source["kind"], report.source["issue_number"]) == (
        "issue",
        "issue",
        12,
    )
    assert report.exception_type == "ZeroDivisionError"
    assert report.innermost_project_frame is not None
    assert report.innermost_project_frame.function == "mean"
