"""What the bot answers to commands: short replies, details collapsed. Pure; text only.

Anything that came from people or logs goes through `inert` (one line) or `fence` (a block), so a
reply can never mention, link or format on someone else's behalf. Every reply ends with a hidden
marker naming the command it answers (`<!-- autofix:reply:comment-123 -->`), by which a retried job
finds the reply an earlier try posted but could not checkpoint.
"""

from __future__ import annotations

from typing import Any

from app.budgets import BudgetUsage
from app.job_records import JobRecord
from jobs.publish.body import details, fence, inert
from jobs.publish.status import current_phase, render_timeline

HELP_ROWS = (
    ("/autofix [instructions]", "issue", "fix the issue; instructions go on the lines below"),
    ("/autofix retry [guidance]", "bot PR or its source", "a new attempt within budget"),
    ("/autofix revise <feedback>", "bot PR", "a follow-up commit for your feedback, proven again"),
    ("/autofix apply", "the original PR", "push the proven fix onto this PR's branch"),
    ("/autofix undo", "bot PR", "revert the bot's last commit on its branch"),
    ("/autofix explain", "bot PR or source", "the full diagnosis"),
    ("/autofix stop", "anywhere", "abort running jobs here; nothing more until `retry`"),
    ("/autofix ignore", "anywhere", "never act on this failure again"),
    ("/autofix status", "anywhere", "phase, queue position, budget used"),
    ("/autofix budget <dollars>", "anywhere", "raise the per-attempt cap here (maintain or admin)"),
    ("/autofix help", "anywhere", "this table"),
)
DOCS = "docs/commands.md"
REPLY_MARKER = "reply:{}"  # rendered by app.github.conversation.render_marker


def render_reply_marker(request: dict[str, Any], job_id: str) -> str:
    """The marker name of the reply to this command: its comment's id, its review's, else its job's."""
    for key, kind in (("comment_id", "comment"), ("review_id", "review")):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return REPLY_MARKER.format(f"{kind}-{value}")
    return REPLY_MARKER.format(f"job-{job_id.replace('-', '_')}")  # no `--` inside an HTML comment


def render_help(error: str | None = None) -> str:
    rows = ["| command | where | does |", "|---|---|---|"]
    rows += [f"| `{c}` | {where} | {does} |" for c, where, does in HELP_ROWS]
    head = f"I did not understand that: {error}." if error else "Autofix commands:"
    body = (
        "\n".join(rows)
        + "\n\nOnly the first line of a comment is read; people with write access may run them."
    )
    return f"{head}\n\n{details('Commands', body)}" if error else f"{head}\n\n{body}"


def render_refusal(login: str, needed: str, have: str) -> str:
    who = inert(f"@{login}")
    return (
        f"Sorry {who}, `/autofix` commands here need {needed} permission on the repository (you have {have})."
    )


def render_status(record: JobRecord | None, position: int | None, usage: BudgetUsage, caps: dict[str, Any],
                  thread_cap: float | None, *, waiting: int | None = None,
                  ceiling: float | None = None) -> str:  # fmt: skip
    """`position`: the record's job's place in the queue; `waiting`: that of a new attempt not started yet;
    `ceiling`: the operator's per-job dollar limit, which no cap here can exceed."""
    if waiting is not None:
        head = f"A new attempt is queued: **position {waiting + 1}**."
    elif record is None:
        head = "No Autofix job has run for this thread."
    elif record.status == "running":
        where = (
            f"queued, position {position + 1}"
            if position is not None
            else (current_phase(record) or "starting")
        )
        head = f"Working on it: **{where}** (try {record.tries})."
    else:
        outcome = (record.outcome or "done").replace("_", " ")
        head = f"Last job: **{outcome}**. {inert(record.reason or '')}".rstrip()
    cap = thread_cap if thread_cap is not None else caps["limits.dollars_per_job"]
    budget = (
        f"Budget: ${usage.dollars_today:.2f} of ${caps['limits.dollars_per_day']:.2f} today, "
        f"${usage.dollars_this_month:.2f} of ${caps['limits.dollars_per_month']:.2f} this month; "
        f"{usage.jobs_last_hour} of {caps['limits.jobs_per_hour']} attempts this hour; "
        f"${cap:.2f} per attempt here" + (render_ceiling(ceiling) if ceiling and cap > ceiling else ".")
    )
    parts = [head, budget]
    if record is not None:
        parts.append(details("Phases", render_timeline(record)))
    return "\n\n".join(parts)


def render_ceiling(ceiling: float) -> str:
    return f", but the operator's limit of ${ceiling:.2f} per job still applies."


def render_explain(record: JobRecord | None) -> str:
    if record is None:
        return "There is no diagnosis yet: no Autofix job has run for this thread."
    outcome = (record.outcome or record.status).replace("_", " ")
    head = f"Diagnosis of job `{record.job_id}`: **{outcome}**. {inert(record.reason or '')}".rstrip()
    causes = [str(p.detail["root_cause"]) for p in record.phases if p.detail.get("root_cause")]
    cause = [f"Likely cause: {inert(causes[-1])}"] if causes else []
    candidates = [f"- {inert(str(c))}" for p in record.phases for c in p.detail.get("candidates") or []][:8]
    tried = [details("Candidates and why they won or lost", "\n".join(candidates))] if candidates else []
    reasoning = details("Reasoning, phase by phase", _phases(record))
    return "\n\n".join([head, *cause, *_evidence(record), *tried, reasoning])


def _evidence(record: JobRecord) -> list[str]:
    report = record.checkpoints.get("report")
    if not isinstance(report, dict):
        return []
    lines = [f"- class: {inert(str(report.get('failure_class')))}"]
    for test in (report.get("failing_tests") or [])[:20]:
        lines.append(f"- failing: `{inert(str(test))}`")
    if report.get("exception_type"):
        message = inert(str(report.get("message") or ""))[:300]
        lines.append(f"- error: `{inert(str(report['exception_type']))}`: {message}")
    excerpt = str(report.get("excerpt") or "")
    block = "\n".join(lines) + ("\n\n" + fence(excerpt[-3000:], "text") if excerpt else "")
    return [details("Evidence", block)]


def _phases(record: JobRecord) -> str:
    rows = [render_timeline(record), ""]
    for phase in record.phases:
        for key, value in phase.detail.items():
            if key not in ("fingerprint", "candidates", "root_cause"):
                rows.append(f"- {phase.name} {key}: {inert(str(value))[:300]}")
    return "\n".join(rows)


OUTCOMES = {
    "stopped": "Stopped. Nothing more happens here until `/autofix retry`.",
    "ignored": "I will not act on this failure again (fingerprint `{fingerprint}`).",
    "no_fingerprint": "There is no failure here to ignore yet: no Autofix job has looked at this thread.",
    "budget": "The per-attempt cap for this thread is now ${dollars:.2f}, for every new attempt here.",
    "retry": "Trying again (job `{job_id}`).",
    "revise": (
        "Revising (job `{job_id}`): a follow-up commit on top of {head} for your feedback, proven in "
        "the sandbox, will be added to this branch."
    ),
    "revise_closed": "This pull request is closed; reopen it or use `/autofix retry` on its source.",
    "retry_nothing": "There is nothing to retry here: no Autofix job has run for this thread.",
    "fix_not_issue": "`/autofix` alone works on issues; on a pull request use `/autofix retry`.",
    "fix": "On it (job `{job_id}`).",
    "off": "Commands are turned off for this repository (`triggers.commands: false`).",
    "config": "`.github/autofix.yml` has problems, so I cannot check who may run commands: {error}",
    "not_bot_pr": "`/autofix {verb}` works on Autofix's own pull requests only.",
}


def render_outcome(key: str, **values: Any) -> str:
    return OUTCOMES[key].format(**values)
