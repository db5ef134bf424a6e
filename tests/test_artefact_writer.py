"""A repair becomes the job page's sections (report, localization, candidates, sandbox, verdicts,
links), bounded, and is read back from a real Redis as the dashboard reads it."""

from __future__ import annotations

from redis.asyncio import Redis

from app.artefacts import JobArtefacts
from jobs.artefact_writer import MAX_DIFF_CHARS, MAX_LOG_CHARS, build_sections, save_repair
from jobs.patch.context import Candidate, Diagnosis
from jobs.repair import Repair
from sandbox_runner.proof import judge
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome
from tests.patch_support import context, report

FAILING = "tests/test_stats.py::test_mean"
DIFF = "--- a/calc/stats.py\n+++ b/calc/stats.py\n@@ -1,2 +1,2 @@\n-    return 1\n+    return 2\n"


def run(candidate: str, outcome: Outcome, exit_code: int, log_tail: str = "1 failed") -> RunResult:
    patch = None if candidate == BASELINE else PatchStatus(True, files=["calc/stats.py"])
    tests = [TestOutcome(FAILING, outcome), TestOutcome("tests/test_stats.py::test_sum", Outcome.PASSED)]
    return RunResult(candidate, patch, exit_code, 1.23456, tests, "junit", log_tail=log_tail)


def repaired() -> Repair:
    diagnosis = Diagnosis("divides by len + 1", "calc/stats.py:2", "mean is sum over count", "nothing known")
    proven = Candidate("c1", "innermost", DIFF, diagnosis, "submitted", agreement=2)
    rejected = Candidate(
        "c2", "broad", "x" * (MAX_DIFF_CHARS + 10), None, "guard_rejected", rejected_because=["big"]
    )
    baseline = run(BASELINE, Outcome.FAILED, 1)
    fixed = run("c1", Outcome.PASSED, 0, log_tail="y" * (MAX_LOG_CHARS + 50))
    return Repair(context(), [proven, rejected], baseline, {"c1": fixed}, [judge(baseline, fixed, [FAILING])])


def test_a_repair_becomes_bounded_sections() -> None:
    links = {"pr": "https://github.com/o/r/pull/3"}
    sections = build_sections(repaired(), backend="local", report=report(), links=links)
    assert set(sections) == {"report", "localization", "candidates", "sandbox", "verdicts", "links"}
    assert sections["report"]["failing_tests"] == [FAILING]
    assert sections["localization"] == [
        {"file": "calc/stats.py", "symbol": "mean", "start": 1, "end": 2, "score": 3.0,
         "why": ["innermost project frame"]}
    ]  # fmt: skip
    first, second = sections["candidates"]
    assert (first["id"], first["strategy"], first["outcome"], first["agreement"]) == (
        "c1",
        "innermost",
        "submitted",
        2,
    )
    assert first["diff"] == DIFF
    assert first["diagnosis"]["root_cause"] == "divides by len + 1"
    assert second["rejected_because"] == ["big"]
    assert second["diagnosis"] is None
    assert len(second["diff"]) < MAX_DIFF_CHARS + 20
    assert second["diff"].endswith("(cut)")
    base, cand = sections["sandbox"]
    assert base == {"candidate": "baseline", "backend": "local", "exit_code": 1, "timed_out": False,
                    "duration_s": 1.235, "passed": 1, "failed": 1, "log_tail": "1 failed"}  # fmt: skip
    assert (cand["candidate"], cand["passed"], cand["failed"]) == ("c1", 2, 0)
    assert cand["log_tail"].startswith("…")
    assert len(cand["log_tail"]) == MAX_LOG_CHARS + 1
    assert sections["verdicts"] == [
        {"candidate": "c1", "proven": True, "reason": sections["verdicts"][0]["reason"]}
    ]
    assert sections["verdicts"][0]["reason"]
    assert sections["links"] == links


def test_a_job_without_a_repair_keeps_only_what_it_has() -> None:
    assert build_sections(None, backend="actions") == {}
    assert set(build_sections(None, backend="actions", report=report())) == {"report"}


async def test_saved_sections_read_back_as_the_dashboard_reads_them(redis: Redis) -> None:
    artefacts = JobArtefacts(redis)
    await save_repair(artefacts, "job-1", repaired(), backend="local", report=report(), links={"pr": "u"})
    await save_repair(artefacts, "job-2", None, backend="local")  # nothing to save: nothing written
    got = await artefacts.get("job-1")
    assert got == build_sections(repaired(), backend="local", report=report(), links={"pr": "u"}) | {
        "model_calls": []
    }
    assert await redis.exists("autofix:jobart:job-2") == 0
