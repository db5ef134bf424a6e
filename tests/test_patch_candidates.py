"""Candidates: k attempts in parallel, each in its own copy; diffs from git, de-duplicated into agreement;
the patch guard and the test-integrity rules applied to every submitted diff."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jobs.patch.candidates import Proposal, propose
from jobs.patch.copies import copy_checkout, diff_key, take_diff
from jobs.patch.prompts import Task
from tests.fakes.anthropic_messages import reply, tool_use
from tests.patch_support import (
    BUGGY,
    DIAGNOSIS,
    FIXED,
    STATS,
    TEST,
    anthropic_provider,
    context,
    engine,
    fix_script,
    git,
    make_repo,
    report,
    served_anthropic,
)

INNERMOST, CALLER, INTENT = (
    "Make the minimal fix at the innermost",
    "fault lies with the caller",
    "Start from the failing test",
)
GUARDED = "    return sum(values) / max(len(values), 1)"


def edit_then_submit(path: str, old: str, new: str, **diagnosis: Any) -> list[Any]:
    return [
        reply(tool_use("editor", {"command": "str_replace", "path": path, "old_str": old, "new_str": new})),
        reply(tool_use("submit_diagnosis", DIAGNOSIS | diagnosis)),
    ]


async def run_propose(repo: Path, scratch: Path, url: str, k: int, task: Task | None = None) -> Proposal:
    async with engine(anthropic_provider(url)) as eng:
        return await propose(
            engine=eng,
            checkout=repo,
            scratch=scratch,
            context=context(),
            task=task or Task(report=report()),
            k=k,
        )


async def test_identical_diffs_count_as_agreement_and_rank_first(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with served_anthropic() as fake:
        fake.state.script(*fix_script(), when=INNERMOST)
        fake.state.script(*edit_then_submit("calc/stats.py", BUGGY, GUARDED), when=CALLER)
        fake.state.script(*edit_then_submit("calc/stats.py", BUGGY, FIXED), when=INTENT)
        proposal = await run_propose(repo, tmp_path / "scratch", fake.url, k=3)
    agreed, other = proposal.candidates
    assert (agreed.id, agreed.strategy, agreed.agreement, agreed.outcome) == (
        "c1",
        "innermost, test_intent",
        2,
        "submitted",
    )
    assert (other.id, other.strategy, other.agreement, other.outcome) == ("c2", "caller", 1, "submitted")
    assert f"-{BUGGY}\n+{FIXED}\n" in agreed.diff
    assert f"+{GUARDED}\n" in other.diff
    assert agreed.diff.startswith("diff --git a/calc/stats.py b/calc/stats.py\n")
    assert agreed.steps == 5  # 3 + 2 model calls
    assert agreed.usage.calls == 5
    assert proposal.usage.calls == 7
    assert (repo / "calc/stats.py").read_text() == STATS  # the checkout itself is never edited
    assert git(repo, "status", "--porcelain") == ""
    assert INNERMOST in str(fake.state.bodies[0]["messages"][0])  # the first call warms the cache alone


async def test_the_diff_guard_rejects_what_the_model_writes_outside_the_rules(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    workflow = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
    workflow += "      - run: echo ${{ secrets.TOKEN }}\n"
    with served_anthropic() as fake:
        fake.state.script(
            reply(
                tool_use(
                    "editor", {"command": "create", "path": ".github/workflows/ci.yml", "file_text": workflow}
                )
            ),
            *fix_script(),
        )
        proposal = await run_propose(repo, tmp_path / "scratch", fake.url, k=1)
    (candidate,) = proposal.candidates
    assert candidate.outcome == "guard_rejected"
    assert any(".github/workflows/ci.yml" in reason for reason in candidate.rejected_because)
    assert (
        "+      - run: echo ${{ secrets.TOKEN }}" in candidate.diff
    )  # recorded for the audit, never applied


async def test_weakening_the_failing_test_is_rejected_unless_the_diagnosis_says_it_is_wrong(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    weakened = "    assert mean([1, 2, 3]) == 1.5"
    with served_anthropic() as fake:
        fake.state.script(
            *edit_then_submit("tests/test_stats.py", "    assert mean([1, 2, 3]) == 2", weakened)
        )
        proposal = await run_propose(repo, tmp_path / "a", fake.url, k=1)
        fake.state.script(
            *edit_then_submit(
                "tests/test_stats.py", "    assert mean([1, 2, 3]) == 2", weakened, test_is_wrong=True
            )
        )
        owned = await run_propose(repo, tmp_path / "b", fake.url, k=1)
    (rejected,) = proposal.candidates
    assert rejected.outcome == "integrity_rejected"
    assert rejected.rejected_because
    assert all("tests/test_stats.py" in r for r in rejected.rejected_because)
    (accepted,) = owned.candidates
    assert accepted.outcome == "submitted"
    assert accepted.rejected_because == []
    assert "test changed (the diagnosis says the test is wrong)" in accepted.detail


async def test_attempts_that_do_not_submit_or_change_nothing_are_recorded_as_such(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with served_anthropic() as fake:
        fake.state.script(reply(tool_use("submit_diagnosis", DIAGNOSIS)), when=INNERMOST)
        fake.state.script(
            reply(
                tool_use(
                    "editor",
                    {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": FIXED},
                )
            ),
            *[reply({"type": "text", "text": "done"}) for _ in range(3)],
            when=CALLER,
        )
        proposal = await run_propose(repo, tmp_path / "scratch", fake.url, k=2)
    outcomes = {c.strategy: (c.outcome, c.detail) for c in proposal.candidates}
    assert outcomes == {
        "innermost": ("no_change", "diagnosis submitted without an edit"),
        "caller": ("no_submission", "3 replies without a tool call"),
    }
    caller = next(c for c in proposal.candidates if c.strategy == "caller")
    assert f"+{FIXED}" in caller.diff  # what it did is kept for the record


def test_an_attempt_copy_has_no_hooks_keeps_links_and_diffs_new_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".gitignore": "build/\n"})
    hook = repo / ".git/hooks/post-checkout"
    hook.write_text("#!/bin/sh\ntouch /tmp/autofix-hook-ran\n")
    hook.chmod(0o755)
    (repo / "build").mkdir()
    (repo / "build/out.bin").write_bytes(b"\0" * 10)
    (repo / "notes.txt").write_text("untracked, not ignored\n")
    os.symlink("calc/stats.py", repo / "link.py")
    copy = tmp_path / "copy"
    baseline = copy_checkout(repo, copy)
    assert not (copy / ".git/hooks").exists()
    assert not (copy / "build").exists()
    assert (copy / "notes.txt").read_text() == "untracked, not ignored\n"
    assert os.readlink(copy / "link.py") == "calc/stats.py"
    assert take_diff(copy, baseline) == ""
    (copy / "calc/median.py").write_text("def median(v):\n    return sorted(v)[len(v) // 2]\n")
    (copy / "tests/test_stats.py").write_text(TEST.replace("== 2", "== 2.0"))
    diff = take_diff(copy, baseline)
    assert "new file mode 100644\n" in diff
    assert "+++ b/calc/median.py\n" in diff
    assert "-    assert mean([1, 2, 3]) == 2\n+    assert mean([1, 2, 3]) == 2.0\n" in diff
    assert diff_key(diff) == diff_key(diff.replace("index ", "index 0"))


async def test_a_checkout_that_cannot_be_copied_fails_the_proposal_before_any_model_call(
    tmp_path: Path,
) -> None:
    with served_anthropic() as fake:
        fake.state.script(*fix_script())
        with pytest.raises(ExceptionGroup) as failed:
            await run_propose(tmp_path / "no-such-checkout", tmp_path / "scratch", fake.url, k=3)
    assert failed.group_contains(FileNotFoundError, match="no checkout at")
    assert fake.state.bodies == []
