"""What the bot answers: pure texts over plain data."""

from __future__ import annotations

from app.budgets import BudgetUsage
from app.commands import VERBS
from app.job_records import JobRecord, PhaseRecord
from app.repo_config import parse_repo_config
from jobs.commands.replies import render_explain, render_help, render_refusal, render_status

CAPS = parse_repo_config(None).values
USAGE = BudgetUsage(jobs_last_hour=2, jobs_today=3, dollars_today=1.5, dollars_this_month=12.25)


def test_the_help_table_lists_every_verb() -> None:
    text = render_help()
    for verb in VERBS:
        assert f"`/autofix {verb}" in text or (verb == "fix" and "`/autofix [instructions]`" in text)
    assert "<details>" not in text  # asked for: shown open
    assert "<details><summary>Commands</summary>" in render_help("unknown command `x`")


def test_a_refusal_mentions_nobody_and_says_what_is_needed() -> None:
    assert render_refusal("a-user", "maintain", "write") == (
        "Sorry @\u200ba-user, `/autofix` commands here need maintain permission on the repository"
        " (you have write)."
    )


def test_status_of_a_queued_a_running_and_no_job() -> None:
    record = JobRecord("j1", "fix_check_run", "o/r", 0.0, 0.0)
    queued = render_status(record, 3, USAGE, CAPS, None)
    assert queued.startswith("Working on it: **queued, position 4** (try 1).")
    assert (
        "Budget: $1.50 of $20.00 today, $12.25 of $200.00 this month; 2 of 10 attempts this hour;" in queued
    )
    record.phases.append(PhaseRecord("reproduce", started_at=0.0))
    assert render_status(record, None, USAGE, CAPS, 7.5).startswith("Working on it: **reproduce** (try 1).")
    assert "$7.50 per attempt here." in render_status(record, None, USAGE, CAPS, 7.5)
    assert "$7.50 per attempt here." in render_status(record, None, USAGE, CAPS, 7.5, ceiling=10.0)
    capped = render_status(record, None, USAGE, CAPS, 7.5, ceiling=3.0)
    assert "$7.50 per attempt here, but the operator's limit of $3.00 per job still applies." in capped
    assert render_status(None, None, USAGE, CAPS, None).startswith("No Autofix job has run for this thread.")


def test_explain_makes_logs_and_reasons_inert() -> None:
    record = JobRecord("j1", "fix_check_run", "o/r", 0.0, 0.0, status="done", outcome="unproven",
                       reason="see @octocat <b>here</b>")  # fmt: skip
    record.checkpoints["report"] = {
        "failure_class": "test",
        "failing_tests": ["t::a"],
        "excerpt": "```\nboom",
    }
    text = render_explain(record)
    assert text.startswith("Diagnosis of job `j1`: **unproven**. see @\u200boctocat &lt;b&gt;here&lt;/b&gt;")
    assert "````text\n```\nboom\n````" in text  # the excerpt's own fence cannot close ours
    assert render_explain(None).startswith("There is no diagnosis yet")
