"""What the bot writes on GitHub: the PR body and the comments for the other outcomes. Pure.

Written for a maintainer reviewing at speed: what broke and why first, then the evidence, then the
proof table, then what was not checked and what it cost; details collapsed. Every text the model
or a log produced goes into a code block or a quote, never into markdown that could render links,
images or mentions (`fence` picks a fence longer than any run of backticks inside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jobs.publish.state_block import render_state

COMMANDS_HELP = (
    "`/autofix retry [guidance]` · `/autofix revise <feedback>` · `/autofix explain` · "
    "`/autofix undo` · `/autofix stop` · `/autofix ignore` · `/autofix help`"
)
MAX_TRACEBACK_LINES = 15
MAX_PROOF_ROWS = 25
_MENTION = re.compile(r"@(?=[A-Za-z0-9-])")
_FOREIGN_URL = re.compile(
    r"\b(https?)://(?!(?:[a-z0-9-]+\.)*github(?:usercontent)?\.com[/:]|github\.com$)", re.I
)


@dataclass(frozen=True)
class ProofRow:
    test: str
    before: str  # "failed", "error", "passed" …
    after: str


@dataclass(frozen=True)
class CandidateLine:
    id: str
    strategy: str
    result: str  # "proven", "tampering", "regressions", "still failing", "not applied", …
    why: str = ""


@dataclass
class FixFacts:
    """Everything the PR body and the comments say about one attempt."""

    fingerprint: str
    job_id: str
    failure_class: str
    exception_type: str | None
    message: str | None
    failing_tests: list[str]
    traceback: list[str]  # a few redacted lines, innermost last
    run_url: str | None
    root_cause: str
    where: str
    why_right: str
    not_covered: str
    proof: list[ProofRow] = field(default_factory=list)
    regression_summary: str = ""  # e.g. "412 passed, 0 failed (baseline: 411 passed, 1 failed)"
    chosen: CandidateLine | None = None
    runners_up: list[CandidateLine] = field(default_factory=list)
    not_verified: list[str] = field(default_factory=list)
    test_notes: list[str] = field(default_factory=list)  # test edits the fix makes, said plainly
    tokens: int = 0
    dollars: float = 0.0
    minutes: float = 0.0
    source: str = "check"  # "check" | "issue"
    issue_number: int | None = None
    base_sha: str = ""
    attempt: int = 1
    revised_from: str = ""  # a revision: the PR head it was proven against and committed on
    revised_by: str = ""  # who asked for it
    revision: str = ""  # what the revision changes, in the model's words (root_cause: the failure's)


def fence(text: str, lang: str = "") -> str:
    """`text` in a code block whose fence no backtick run inside can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def inert(text: str) -> str:
    """One line of untrusted prose made safe for markdown: no mentions, no HTML, no markdown links, and
    no live links outside GitHub."""
    flat = _FOREIGN_URL.sub(lambda m: f"{m.group(1)}[:]//", " ".join(text.split()))
    flat = _MENTION.sub("@\u200b", flat).replace("<", "&lt;").replace(">", "&gt;")
    return flat.replace("](", "]\u200b(").replace("[", "\\[")


def details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _evidence(f: FixFacts) -> list[str]:
    lines = ["### Evidence"]
    if f.run_url:
        lines.append(f"- Failing run: {f.run_url}")
    if f.failing_tests:
        shown = ", ".join(f"`{t}`" for t in f.failing_tests[:5])
        more = f" and {len(f.failing_tests) - 5} more" if len(f.failing_tests) > 5 else ""
        lines.append(f"- Failing tests: {shown}{more}")
    if f.exception_type:
        message = (f.message or "").splitlines()[0] if f.message else ""
        lines.append(f"- Error: `{f.exception_type}`" + (f": {inert(message)[:200]}" if message else ""))
    if f.traceback:
        lines.append("")
        lines.append(details("Traceback", fence("\n".join(f.traceback[-MAX_TRACEBACK_LINES:]), "text")))
    return lines


def _revision(f: FixFacts) -> list[str]:
    who = f" from {inert('@' + f.revised_by)}" if f.revised_by else ""
    what = [inert(f.revision), ""] if f.revision else []
    return [
        "### Revision",
        "",
        f"The last commit addresses review feedback{who}. It is a follow-up on `{f.revised_from[:7]}`, "
        "proven against that commit: the tests below still pass and nothing that passed there fails.",
        "",
        *what,
    ]


def _proof(f: FixFacts) -> list[str]:
    before = f"at `{f.revised_from[:7]}`" if f.revised_from else "before"
    lines = ["### Proof", "", f"| test | {before} | after |", "|---|---|---|"]
    for row in f.proof[:MAX_PROOF_ROWS]:
        lines.append(f"| `{row.test}` | {row.before} | {row.after} |")
    if len(f.proof) > MAX_PROOF_ROWS:
        lines.append(f"| … {len(f.proof) - MAX_PROOF_ROWS} more | | |")
    if f.regression_summary:
        lines += ["", f"Whole suite with the fix: {f.regression_summary}."]
    if f.chosen:
        lines += ["", f"Chosen candidate: `{f.chosen.id}` ({f.chosen.strategy})."]
    if f.runners_up:
        rows = [
            f"- `{c.id}` ({c.strategy}): {c.result}" + (f" — {inert(c.why)}" if c.why else "")
            for c in f.runners_up
        ]
        lines += ["", details("Other candidates", "\n".join(rows))]
    return lines


def _cost(f: FixFacts) -> str:
    return f"{f.tokens:,} tokens · ${f.dollars:.2f} · {f.minutes:.1f} min · attempt {f.attempt}"


def _state(f: FixFacts, **extra: object) -> str:
    state = {"fingerprint": f.fingerprint, "job_id": f.job_id, "source": f.source, "attempt": f.attempt}
    state |= {"base_sha": f.base_sha, "issue": f.issue_number} | extra
    return render_state(state)


def render_pr_body(f: FixFacts) -> str:
    lines = []
    if f.issue_number is not None:
        lines += [f"Fixes #{f.issue_number}", ""]
    if f.revised_from:
        lines += _revision(f)
    lines += [
        "### What broke",
        "",
        inert(f.root_cause),
        "",
        f"Where: `{f.where}`. Why this fix is right: {inert(f.why_right)}",
        "",
        *_evidence(f),
        "",
        *_proof(f),
        "",
        "### Not verified",
        "",
    ]
    not_verified = [inert(f.not_covered)] if f.not_covered else []
    not_verified += [inert(x) for x in f.not_verified]
    lines += [f"- {x}" for x in not_verified] or ["- Nothing known."]
    if f.test_notes:
        lines += ["", "### Test changes", "", *[f"- {inert(n)}" for n in f.test_notes]]
    lines += ["", "---", f"Cost: {_cost(f)}", "", f"Commands: {COMMANDS_HELP}", "", _state(f)]
    return "\n".join(lines)


def render_unproven_comment(f: FixFacts, best_diff: str | None, tried: list[CandidateLine]) -> str:
    lines = [
        "**Autofix could not prove a fix**, so it opened no pull request.",
        "",
        f"Likely cause: {inert(f.root_cause)}" if f.root_cause else "No diagnosis was submitted.",
        "",
        *_evidence(f),
        "",
        "### What was tried",
        "",
        *[f"- `{c.id}` ({c.strategy}): {c.result}" + (f" — {inert(c.why)}" if c.why else "") for c in tried],
    ]
    if best_diff:
        lines += ["", details("Best attempt (not proven)", fence(best_diff, "diff"))]
    lines += [
        "",
        f"Cost: {_cost(f)} · `/autofix retry [guidance]` to try again.",
        "",
        _state(f, outcome="unproven"),
    ]
    return "\n".join(lines)


def render_flaky_comment(f: FixFacts, runs: list[str]) -> str:
    rows = "\n".join(f"- {r}" for r in runs)
    return (
        "**This failure looks flaky**: the failing tests passed when run again on the same commit, "
        f"so Autofix proposes no patch.\n\n{rows}\n\n"
        + "\n".join(_evidence(f))
        + "\n\n"
        + _state(f, outcome="flaky")
    )


def render_broken_base_comment(f: FixFacts, base_sha: str) -> str:
    return (
        f"**The base is already broken**: the same tests fail on the base commit `{base_sha[:12]}`, "
        "so this pull request did not cause the failure. Fix the base branch first.\n\n"
        + "\n".join(_evidence(f))
        + "\n\n"
        + _state(f, outcome="broken_base")
    )


def render_fork_suggestion(f: FixFacts, diff: str) -> str:
    """For a fork's PR: the diagnosis and the proven patch, to apply by hand (nothing is pushed)."""
    return "\n".join(
        [
            "**Autofix found and proved a fix** for the failing check. It does not push to forks; "
            "apply it yourself if it looks right:",
            "",
            inert(f.root_cause),
            "",
            fence(diff, "diff"),
            "",
            "Save the block as `fix.patch` and run `git apply fix.patch`.",
            "",
            *_proof(f),
            "",
            _state(f, outcome="suggested"),
        ]
    )
