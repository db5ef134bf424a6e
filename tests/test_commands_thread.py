"""Which fix jobs belong to a thread, and which one `/autofix explain` shows: pure, over job records."""

from __future__ import annotations

from typing import Any

from app.job_records import JobRecord, PhaseRecord
from jobs.commands.thread import Thread, select_jobs


def job(job_id: str, at: float, request: dict[str, Any], *, kind: str = "fix_check_run", fp: str = "fp1",
        reproduced: bool = True, repo: str = "o/r") -> JobRecord:  # fmt: skip
    phases = [PhaseRecord("evidence", "done", at, at, detail={"fingerprint": fp})]
    if reproduced:
        phases.append(PhaseRecord("reproduce", "done", at, at))
    return JobRecord(job_id, kind, repo, at, at, request=request, phases=phases)


def test_jobs_of_a_source_pr_an_issue_and_a_retry() -> None:
    records = [
        job("check-a", 1, {"pull_requests": [7]}),
        job("issue-b", 2, {"issue_number": 9}, kind="fix_issue", fp="fp2"),
        job("check-a:retry:1", 3, {"pull_requests": [7], "threads": [7, 12]}),
        job("other-repo", 4, {"pull_requests": [7]}, repo="o/other"),
        job("cmd", 5, {"number": 7}, kind="run_command"),
    ]
    assert [r.job_id for r in select_jobs(records, "O/R", 7, None)] == ["check-a:retry:1", "check-a"]
    assert [r.job_id for r in select_jobs(records, "o/r", 9, None)] == ["issue-b"]
    assert [r.job_id for r in select_jobs(records, "o/r", 12, None)] == ["check-a:retry:1"]
    assert select_jobs(records, "o/r", 99, None) == []


def test_a_bot_pr_finds_its_job_the_same_failure_and_its_issue() -> None:
    records = [
        job("made-it", 1, {"pull_requests": []}),
        job("duplicate", 2, {"pull_requests": []}, reproduced=False),  # skipped at the gate
        job("unrelated", 3, {"pull_requests": []}, fp="fp9"),
        job("from-issue", 4, {"issue_number": 5}, kind="fix_issue", fp="fp8"),
    ]
    state = {"job_id": "made-it", "fingerprint": "fp1", "issue": 5}
    found = select_jobs(records, "o/r", 40, state)
    assert [r.job_id for r in found] == ["from-issue", "duplicate", "made-it"]
    thread = Thread(40, None, state, found)
    assert thread.latest is not None
    assert thread.latest.job_id == "from-issue"
    assert thread.diagnosed is not None
    assert thread.diagnosed.job_id == "made-it"
    assert thread.numbers() == [40, 5]
    assert thread.fingerprint == "fp1"


def test_without_a_named_job_explain_skips_gate_duplicates() -> None:
    found = [job("dup", 2, {}, reproduced=False), job("real", 1, {})]
    assert Thread(3, None, None, found).diagnosed == found[1]
    assert Thread(3, None, None, []).diagnosed is None
    assert Thread(3, None, None, found[:1]).fingerprint == "fp1"
