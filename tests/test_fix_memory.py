"""Fix memory: remembered proven fixes, hints for similar failures, rejected fixes never offered again."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from jobs.patch.context import Candidate, Diagnosis
from jobs.patch.memory import FixMemory, MemoryRecord, choose_hints, finding_of, summarise_diff
from sandbox_runner.failure import FailureClass, Frame
from sandbox_runner.fingerprint import fingerprint
from sandbox_runner.report import FailureReport

DIFF = """\
diff --git a/src/calc.py b/src/calc.py
index 1111111..2222222 100644
--- a/src/calc.py
+++ b/src/calc.py
@@ -1,3 +1,3 @@
 def mean(xs):
-    return sum(xs) / len(xs) + 1
+    return sum(xs) / len(xs)
 # end
@@ -10,2 +10,1 @@
--- a comment line that looks like a header
 pass
diff --git a/src/old.py b/src/old.py
deleted file mode 100644
index 3333333..0000000
--- a/src/old.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x = 1
-y = 2
"""


def report(
    message: str = "assert 3.0 == 2.0",
    exc: str = "AssertionError",
    frames: tuple[tuple[str, str], ...] = (("tests/test_calc.py", "test_mean"), ("src/calc.py", "mean")),
    tests: tuple[str, ...] = ("tests/test_calc.py::test_mean",),
) -> FailureReport:
    r = FailureReport(
        source={"kind": "log"},
        failure_class=FailureClass.TEST_FAILURE.value,
        fixable=True,
        failing_tests=list(tests),
        exception_type=exc,
        message=message,
        frames=[Frame(f, 3, fn, True) for f, fn in frames],
    )
    r.fingerprint = fingerprint(finding_of(r))
    return r


def candidate(root_cause: str = "mean adds 1") -> Candidate:
    diagnosis = Diagnosis(root_cause, "src/calc.py:2", "the mean has no offset", "nothing known")
    return Candidate(id="c1", strategy="minimal", diff=DIFF, diagnosis=diagnosis, outcome="submitted")


def test_summarise_diff_counts_each_file_including_deletions() -> None:
    files, summary = summarise_diff(DIFF)
    assert files == ["src/calc.py", "src/old.py"]
    assert summary == "src/calc.py +1 -2, src/old.py +0 -2"


def test_numbers_in_the_message_do_not_make_another_failure() -> None:
    assert report(message="assert 5.5 == 4.5").fingerprint == report().fingerprint


def test_same_failure_is_the_first_hint_and_an_unrelated_one_is_none() -> None:
    old = report()
    record = MemoryRecord.from_json(_record(old).to_json())  # survives a JSON round trip
    assert choose_hints([record], old)[0].similarity == 1.0
    other = report(message="KeyError: 'x'", exc="KeyError", frames=(("src/io.py", "load"),), tests=("t::b",))
    assert choose_hints([record], other) == []


def test_a_related_failure_gets_the_hint_with_its_similarity() -> None:
    record = _record(report())
    new = report(message="mean of an empty list")  # same exception, frames and test; another message
    assert new.fingerprint != record.fingerprint
    (hint,) = choose_hints([record], new)
    assert 0.7 <= hint.similarity < 1.0
    assert hint.record.root_cause == "mean adds 1"


def test_rejected_records_are_never_hints() -> None:
    for outcome in ("closed", "reverted"):
        record = _record(report())
        record.pr_outcome = outcome
        assert choose_hints([record], report()) == []


def test_hints_are_most_alike_first_then_newest_and_capped() -> None:
    same = _record(report(), at=1.0)
    related_new = _record(report(message="the median is off"), at=5.0)
    related_old = _record(report(message="the mode is off"), at=2.0)
    hints = choose_hints([related_old, same, related_new], report(), limit=2)
    assert [h.record.recorded_at for h in hints] == [1.0, 5.0]


def _record(r: FailureReport, at: float = 0.0) -> MemoryRecord:
    from jobs.patch.memory import build_record

    return build_record(r, candidate(), now=at)


async def test_remember_and_offer_through_redis(redis: Redis) -> None:
    memory = FixMemory(redis, repo_id=7)
    await memory.remember(report(), candidate(), now=10.0)
    stored = await memory.get(report().fingerprint)
    assert stored is not None
    assert stored.files == ["src/calc.py", "src/old.py"]
    assert [h.record.fingerprint for h in await memory.hints(report(message="rounding went wrong"))] == [
        report().fingerprint
    ]
    assert await FixMemory(redis, repo_id=8).hints(report()) == []  # per repository


async def test_a_rejected_fix_is_remembered_as_rejected_and_not_replaced(redis: Redis) -> None:
    memory = FixMemory(redis, repo_id=7)
    fp = report().fingerprint
    await memory.remember(report(), candidate(), now=1.0)
    assert await memory.set_pr(fp, 12, "merged")
    assert not await memory.is_rejected(fp)
    assert await memory.set_pr(fp, 13, "reverted")
    assert await memory.is_rejected(fp)
    await memory.remember(report(), candidate("another idea"), now=2.0)
    stored = await memory.get(fp)
    assert stored is not None
    assert (stored.root_cause, stored.pr_number) == ("mean adds 1", 13)
    assert await memory.hints(report()) == []


async def test_unknown_outcomes_and_fingerprints(redis: Redis) -> None:
    memory = FixMemory(redis, repo_id=7)
    assert not await memory.set_pr("v1:0000000000000000", 1, "merged")
    with pytest.raises(ValueError, match="unknown PR outcome"):
        await memory.set_pr("v1:0000000000000000", 1, "abandoned")


async def test_oldest_records_go_first_but_rejections_are_kept(redis: Redis) -> None:
    memory = FixMemory(redis, repo_id=7, max_records=2)
    first = report(message="AssertionError one", tests=("t::a",))
    await memory.remember(first, candidate(), now=1.0)
    await memory.set_pr(first.fingerprint, 1, "closed")
    for i, name in enumerate(("t::b", "t::c"), start=2):
        await memory.remember(report(tests=(name,)), candidate(), now=float(i))
    assert await memory.get(first.fingerprint) is None
    assert len(await memory.records()) == 2
    assert await memory.is_rejected(first.fingerprint)
