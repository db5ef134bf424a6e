"""Pure renderers of what the bot writes on GitHub: names, titles, commit messages, bodies, state."""

from __future__ import annotations

import re

import pytest

from jobs.publish.body import (
    CandidateLine,
    FixFacts,
    ProofRow,
    fence,
    inert,
    render_broken_base_comment,
    render_flaky_comment,
    render_fork_suggestion,
    render_pr_body,
    render_unproven_comment,
)
from jobs.publish.naming import branch_name, commit_message, pr_title, scope_of, summary_of
from jobs.publish.state_block import parse_state, render_state

FP = "v1:0123456789abcdef"


def facts(**changes: object) -> FixFacts:
    f = FixFacts(
        fingerprint=FP,
        job_id="check:1:abc:test",
        failure_class="test_failure",
        exception_type="ZeroDivisionError",
        message="division by zero",
        failing_tests=["tests/test_stats.py::test_mean_empty"],
        traceback=[
            '  File "src/stats.py", line 3, in mean',
            "    return sum(xs) / len(xs)",
            "ZeroDivisionError",
        ],
        run_url="https://github.com/o/r/actions/runs/5/job/6",
        root_cause="The mean of an empty list divides by zero. It should return 0.0.",
        where="src/stats.py:3 in mean",
        why_right="An empty sample has no mean; the docstring promises 0.0.",
        not_covered="Lists of NaN are not handled.",
        proof=[ProofRow("tests/test_stats.py::test_mean_empty", "failed", "passed")],
        regression_summary="41 passed, 0 failed (baseline: 40 passed, 1 failed)",
        chosen=CandidateLine("c1", "innermost frame", "proven"),
        runners_up=[CandidateLine("c2", "caller", "tampering", "skips the failing test")],
        tokens=12_345,
        dollars=0.4213,
        minutes=3.25,
        base_sha="abc",
    )
    for k, v in changes.items():
        setattr(f, k, v)
    return f


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "autofix/v1-0123456789abcdef"),
        ("feature/login", "autofix/v1-0123456789abcdef-for-feature-login"),
        ("weird..name~^:", "autofix/v1-0123456789abcdef-for-weird.name"),
    ],
)
def test_branch_names_are_stable_and_valid_refs(target: str | None, expected: str) -> None:
    name = branch_name("autofix/", FP, target)
    assert name == expected
    assert ".." not in name
    assert not re.search(r"[~^:?*\[\\ ]", name)


def test_titles_are_conventional_fixes_with_a_scope_when_one_module_changed() -> None:
    assert (
        pr_title("The mean divides by zero. More text.", ["src/stats.py"])
        == "fix(stats): the mean divides by zero"
    )
    assert (
        pr_title("URL parsing drops the port", ["pkg/a.py", "pkg/b.py"]) == "fix: URL parsing drops the port"
    )
    long = pr_title("word " * 40, ["x.py"])
    assert len(long) <= 72
    assert long.endswith("…")
    assert pr_title("", []) == "fix: repair the failing check"


def test_scope_and_summary_helpers() -> None:
    assert scope_of(["src/pkg/__init__.py"]) == "pkg"
    assert scope_of(["tests/test_a.py", "src/a.py"]) is None
    assert summary_of("Off by one.\nIn the loop.") == "off by one"


def test_commit_messages_carry_trailers() -> None:
    message = commit_message("fix: x", "Body.", fingerprint=FP, run_url="https://github.com/r/1", job_id="j")
    assert message.endswith(
        f"Autofix-Fingerprint: {FP}\nAutofix-Job: j\nAutofix-Run: https://github.com/r/1\n"
    )
    assert message.startswith("fix: x\n\nBody.\n\n")


def test_state_round_trips_and_cannot_be_closed_early_or_forged_by_an_older_block() -> None:
    state = {"fingerprint": FP, "note": "--> <!-- autofix-state v1 {} -->", "n": -2}
    block = render_state(state)
    assert block.count("-->") == 1
    assert parse_state('user text <!-- autofix-state v1 {"fingerprint": "fake"} -->\n' + block) == state
    assert parse_state("no block") is None
    assert parse_state("<!-- autofix-state v9 {} -->") is None
    assert parse_state("<!-- autofix-state v1 {broken} -->") is None


def test_the_pr_body_leads_with_the_cause_then_evidence_proof_and_cost() -> None:
    body = render_pr_body(facts())
    order = ["### What broke", "### Evidence", "### Proof", "### Not verified", "Cost:", "Commands:"]
    assert [body.index(h) for h in order] == sorted(body.index(h) for h in order)
    assert "| `tests/test_stats.py::test_mean_empty` | failed | passed |" in body
    assert "41 passed, 0 failed" in body
    assert "- `c2` (caller): tampering — skips the failing test" in body
    assert "12,345 tokens · $0.42 · 3.2 min · attempt 1" in body
    assert "Lists of NaN are not handled." in body
    assert parse_state(body) == {
        "fingerprint": FP,
        "job_id": "check:1:abc:test",
        "source": "check",
        "attempt": 1,
        "base_sha": "abc",
        "issue": None,
    }


def test_an_issue_fix_says_fixes_and_test_edits_are_said_plainly() -> None:
    body = render_pr_body(facts(source="issue", issue_number=12, test_notes=["test_mean now expects 0.0"]))
    assert body.startswith("Fixes #12\n")
    assert "### Test changes\n\n- test_mean now expects 0.0" in body


def test_untrusted_text_cannot_mention_link_or_inject_html() -> None:
    hostile = "Ping @octocat <img src=x> [click](https://evil.example) http://evil.example/x see https://github.com/o/r"
    text = inert(hostile)
    assert "@octocat" not in text
    assert "<img" not in text
    assert "](" not in text
    assert "http://evil" not in text
    assert "https://evil" not in text
    assert "https://github.com/o/r" in text
    body = render_pr_body(facts(root_cause=hostile))
    assert "@octocat" not in body
    assert "<img" not in body


def test_fences_outlast_backticks_inside() -> None:
    block = fence("a ```` b")
    assert block.startswith("`````\n")
    assert block.endswith("\n`````")


def test_the_other_outcomes() -> None:
    tried = [CandidateLine("c1", "innermost frame", "still failing", "test_mean_empty still fails")]
    unproven = render_unproven_comment(facts(), "diff --git a/x b/x", tried)
    assert unproven.startswith("**Autofix could not prove a fix**")
    assert "<summary>Best attempt (not proven)</summary>" in unproven
    assert parse_state(unproven)["outcome"] == "unproven"  # type: ignore[index]
    flaky = render_flaky_comment(facts(), ["run 1: failed", "run 2: passed"])
    assert "- run 2: passed" in flaky
    assert "abc123def456" in render_broken_base_comment(facts(), "abc123def4567890")
    suggestion = render_fork_suggestion(facts(), "diff --git a/src/stats.py b/src/stats.py")
    assert "It does not push to forks" in suggestion
    assert "```diff\ndiff --git a/src/stats.py" in suggestion
