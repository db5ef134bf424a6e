"""The sticky status comment and the Autofix check run, rendered from the job record."""

from __future__ import annotations

from app.job_records import JobRecord, PhaseRecord
from app.repo_config import RepoConfigError, parse_repo_config
from jobs.publish.status import render_check, render_config_error, render_status_comment, render_timeline


def record(status: str = "running", outcome: str | None = None, reason: str | None = None) -> JobRecord:
    r = JobRecord(
        "check:1:abc:tests", "fix_check_run", "o/r", 0.0, 0.0, status=status, outcome=outcome, reason=reason
    )
    r.phases = [
        PhaseRecord("evidence", "done", 0.0, 1.25, "report"),
        PhaseRecord("gate", "done", 1.25, 1.3, "ok"),
        PhaseRecord(
            "reproduce",
            "running" if status == "running" else "done",
            1.3,
            None if status == "running" else 30.0,
        ),
    ]
    return r


def test_the_timeline_lists_phases_in_order_with_times() -> None:
    text = render_timeline(record())
    assert text.splitlines()[2] == "| evidence | ✅ | 1.2 s | report |"
    assert text.splitlines()[4] == "| reproduce | ⏳ | … |  |"


def test_while_running_the_comment_and_check_say_which_phase() -> None:
    assert render_status_comment(record()).startswith(
        "**Autofix is working on this** (phase: reproduce, try 1)."
    )
    view = render_check(record())
    assert (view.status, view.conclusion, view.title) == ("in_progress", None, "Working: reproduce")


def test_finished_outcomes_map_to_conclusions() -> None:
    done = record("done", "pr_opened", "Opened #12.")
    comment = render_status_comment(done, links={"Pull request": "https://github.com/o/r/pull/12"})
    assert comment.startswith(
        "**Autofix finished: pr opened.** Opened #12.\n- Pull request: https://github.com/o/r/pull/12"
    )
    assert render_check(done).conclusion == "success"
    assert render_check(record("done", "unproven")).conclusion == "action_required"
    assert render_check(record("done", "skipped", "Budget reached.")).summary.startswith("Budget reached.")
    assert render_check(record("failed", "error")).conclusion == "failure"
    assert render_check(record("done", "something_new")).conclusion == "neutral"


def test_a_broken_config_is_shown_with_every_problem() -> None:
    try:
        parse_repo_config("enabled: maybe\nlimits: {jobs_per_hour: -1}\n")
    except RepoConfigError as e:
        view = render_config_error(e.problems)
    assert (view.conclusion, view.title) == ("action_required", ".github/autofix.yml: 2 problems")
    assert "- line 1: `enabled`: expected `true` or `false`, got 'maybe'" in view.summary
    assert "line 2: `limits.jobs_per_hour`" in view.summary
