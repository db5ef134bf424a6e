"""Routing: a verified webhook becomes zero or more job requests. Pure: no I/O, no clock.

Each handler states its trigger in `@handles("event", action=...)`, so "when does this run?" reads without the
body, and returns the job requests or the reason the delivery was ignored. Job ids are
deterministic (DESIGN.md, Contracts) so that redeliveries and several deliveries about the same
failure collapse into one job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from app.commands import Command, parse_command
from app.payloads import MalformedPayload, get_dict, get_int, get_list, get_str, opt_str
from app.settings import Settings
from jobs import names

FAILED_CONCLUSIONS = frozenset({"failure", "timed_out"})
SANDBOX_CHECK_MARKER = "autofix-sandbox"  # check runs of our sandbox workflow carry this in their name
JSON = dict[str, Any]
NO_INSTALLATION = (
    "payload field 'installation' is missing or has no integer 'id': autofix acts only on GitHub App "
    "deliveries (a repository or organization webhook names no installation)"
)


@dataclass(frozen=True)
class JobRequest:
    """One job to enqueue: the worker function, its deterministic id, and plain-JSON arguments."""

    function: str
    job_id: str
    args: JSON = field(default_factory=dict)


class Routed(NamedTuple):
    jobs: list[JobRequest]
    ignored: str | None = None


def ignore(reason: str) -> Routed:
    return Routed([], reason)


Handler = Callable[[JSON, Settings], Routed]
# event -> (the actions it is handled for, or None for all; the handler)
_HANDLERS: dict[str, tuple[frozenset[str] | None, Handler]] = {}


def handles(*events: str, action: str | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for `events`, and only for the payload `action` when one is given."""

    def register(fn: Handler) -> Handler:
        for event in events:
            _HANDLERS[event] = (frozenset({action}) if action else None, fn)
        return fn

    return register


def route(event: str, payload: JSON, settings: Settings) -> Routed:
    """The jobs a delivery asks for. Raises MalformedPayload when a field we need is missing.

    Every job carries the delivery's `installation_id` (its token is what the worker acts with), so
    a delivery that asks for work without naming an installation is malformed; one that asks for
    nothing keeps its answer (a repository hook's `ping` or an event we ignore names none either)."""
    if event not in _HANDLERS:
        return ignore(f"event {event!r} is not one autofix acts on")
    actions, handler = _HANDLERS[event]
    action = payload.get("action")
    if actions is not None and not (isinstance(action, str) and action in actions):
        wanted = ", ".join(sorted(actions))
        return ignore(f"{event}.{action}: autofix acts on {event}.{wanted} only")
    routed = handler(payload, settings)
    if not routed.jobs:
        return routed
    inst = {"installation_id": _installation_id(payload)}
    return Routed([replace(job, args=job.args | inst) for job in routed.jobs])


def handled_events() -> frozenset[str]:
    return frozenset(_HANDLERS)


def _repo(payload: JSON) -> tuple[int, str]:
    repo = get_dict(payload, "repository")
    return get_int(repo, "id"), get_str(repo, "full_name")


def _installation_id(payload: JSON) -> int:
    inst = payload.get("installation")
    inst_id = inst.get("id") if isinstance(inst, dict) else None
    if not isinstance(inst_id, int) or isinstance(inst_id, bool):
        raise MalformedPayload(NO_INSTALLATION)
    return inst_id


def _sender_is_bot(payload: JSON) -> bool:
    sender = payload.get("sender")
    return isinstance(sender, dict) and sender.get("type") == "Bot"


def _base_args(payload: JSON) -> JSON:
    """The repository every job is about (route() adds the installation once a handler asks for work)."""
    repo_id, full_name = _repo(payload)
    return {"repo_id": repo_id, "repo": full_name}


# -- check runs ----------------------------------------------------------------------------------


@handles("check_run", action="completed")
def _check_run(payload: JSON, settings: Settings) -> Routed:
    run = get_dict(payload, "check_run")
    conclusion = opt_str(run, "conclusion")
    name = get_str(run, "name")
    app = run["app"] if isinstance(run.get("app"), dict) else {}
    app_id = app.get("id")
    if settings.github_app_id is not None and app_id == settings.github_app_id:
        return ignore("check run belongs to autofix itself")
    if SANDBOX_CHECK_MARKER in name.lower():
        return ignore("check run is autofix's own sandbox workflow")
    branch = opt_str(run.get("check_suite"), "head_branch")
    args = _base_args(payload) | {
        "check_run_id": get_int(run, "id"),
        "check_name": name,
        "check_app": opt_str(app, "slug"),  # whose check it is: `check_apps` in the repo config
        "head_sha": get_str(run, "head_sha"),
        "head_branch": branch,
        "conclusion": conclusion,
        "details_url": opt_str(run, "details_url"),
        "pull_requests": [get_int(pr, "number") for pr in get_list(run, "pull_requests")],
    }
    if branch and branch.startswith(settings.autofix_branch_prefix):
        # CI on one of autofix's own branches is followed (is the fix green in real CI?), never fixed
        job_id = f"botci:{args['repo_id']}:{args['head_sha']}:{name}:{args['check_run_id']}"
        return Routed([JobRequest(names.RECORD_BOT_CHECK, job_id, args)])
    if conclusion not in FAILED_CONCLUSIONS:
        return ignore(f"check run concluded {conclusion!r}, not a failure")
    job_id = f"check:{args['repo_id']}:{args['head_sha']}:{name}"
    return Routed([JobRequest(names.FIX_CHECK_RUN, job_id, args)])


# -- issues and comments -------------------------------------------------------------------------


@handles("issues", action="labeled")
def _issues(payload: JSON, settings: Settings) -> Routed:
    label = get_str(get_dict(payload, "label"), "name")
    if label.casefold() != settings.autofix_label.casefold():  # GitHub label names ignore case
        return ignore(f"label {label!r} is not the trigger label {settings.autofix_label!r}")
    if _sender_is_bot(payload):
        return ignore("label was added by a bot")
    issue = get_dict(payload, "issue")
    if isinstance(issue.get("pull_request"), dict):
        return ignore("the trigger label was put on a pull request, not an issue")
    number = get_int(issue, "number")
    # the label event's own id: a redelivery repeats it, a later re-label gets a new one
    label_event = get_str(issue, "updated_at")
    args = _base_args(payload) | {
        "issue_number": number,
        "label_event": label_event,
        "sender": get_str(get_dict(payload, "sender"), "login"),
    }
    job_id = f"issue:{args['repo_id']}:{number}:{label_event}"
    return Routed([JobRequest(names.FIX_ISSUE, job_id, args)])


@handles("issue_comment", action="created")
def _issue_comment(payload: JSON, settings: Settings) -> Routed:
    if _sender_is_bot(payload):
        return ignore("comment was written by a bot")
    comment = get_dict(payload, "comment")
    command = parse_command(opt_str(comment, "body") or "")
    if command is None:
        return ignore("comment does not start with /autofix")
    issue = get_dict(payload, "issue")
    comment_id = get_int(comment, "id")
    args = _base_args(payload) | {
        "comment_id": comment_id,
        "number": get_int(issue, "number"),
        "is_pull_request": isinstance(issue.get("pull_request"), dict),
        "author": get_str(get_dict(comment, "user"), "login"),
        "author_association": opt_str(comment, "author_association"),
        "command": command.to_json(),
    }
    job_id = f"cmd:{args['repo_id']}:{comment_id}"
    return Routed([JobRequest(names.RUN_COMMAND, job_id, args)])


@handles("pull_request_review", action="submitted")
def _review(payload: JSON, settings: Settings) -> Routed:
    """Changes requested on one of our PRs: a `revise` with the review as the feedback (the worker
    checks the reviewer's permission and `triggers.reviews`, and reads the review's comments)."""
    if _sender_is_bot(payload):
        return ignore("review was written by a bot")
    review = get_dict(payload, "review")
    if (opt_str(review, "state") or "").lower() != "changes_requested":
        return ignore(f"review is {opt_str(review, 'state')!r}, not changes_requested")
    pr = get_dict(payload, "pull_request")
    if not get_str(get_dict(pr, "head"), "ref").startswith(settings.autofix_branch_prefix):
        return ignore("review is on a pull request that autofix did not open")
    review_id = get_int(review, "id")
    feedback = (opt_str(review, "body") or "").strip()
    command = Command("revise", raw="(review)", text=feedback).to_json()
    args = _base_args(payload) | {
        "comment_id": None,
        "review_id": review_id,
        "number": get_int(pr, "number"),
        "is_pull_request": True,
        "author": get_str(get_dict(review, "user"), "login"),
        "author_association": opt_str(review, "author_association"),
        "command": command,
    }
    job_id = f"review:{args['repo_id']}:{review_id}"
    return Routed([JobRequest(names.RUN_COMMAND, job_id, args)])


# -- signals and records -------------------------------------------------------------------------


@handles("workflow_run", action="completed")
def _workflow_run(payload: JSON, settings: Settings) -> Routed:
    run = get_dict(payload, "workflow_run")
    path = opt_str(run, "path") or ""
    workflow_file = path.split("@", 1)[0].rsplit("/", 1)[-1]
    if workflow_file != settings.autofix_sandbox_workflow:
        return ignore(f"workflow {workflow_file or '?'} is not the autofix sandbox workflow")
    run_id = get_int(run, "id")
    attempt = run.get("run_attempt") if isinstance(run.get("run_attempt"), int) else 1
    args = _base_args(payload) | {
        "run_id": run_id,
        "run_attempt": attempt,
        "conclusion": opt_str(run, "conclusion"),
        "head_sha": opt_str(run, "head_sha"),
        "display_title": opt_str(run, "display_title"),
    }
    job_id = f"sandbox:{args['repo_id']}:{run_id}:{attempt}"
    return Routed([JobRequest(names.SANDBOX_FINISHED, job_id, args)])


@handles("pull_request", action="closed")
def _pull_request(payload: JSON, settings: Settings) -> Routed:
    pr = get_dict(payload, "pull_request")
    head = get_str(get_dict(pr, "head"), "ref")
    author = get_str(get_dict(pr, "user"), "login")
    ours = head.startswith(settings.autofix_branch_prefix) and (
        settings.autofix_bot_login is None or author == settings.autofix_bot_login
    )
    if not ours:
        return ignore("pull request was not opened by autofix")
    number = get_int(pr, "number")
    args = _base_args(payload) | {
        "number": number,
        "merged": pr.get("merged") is True,
        "head_ref": head,
        "closed_at": opt_str(pr, "closed_at"),
        "closed_by": get_str(get_dict(payload, "sender"), "login"),
        "merge_commit_sha": opt_str(pr, "merge_commit_sha") if pr.get("merged") is True else None,
    }
    job_id = f"outcome:{args['repo_id']}:{number}:{args['closed_at']}"
    return Routed([JobRequest(names.RECORD_PR_OUTCOME, job_id, args)])


_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})")


@handles("push")
def _push(payload: JSON, settings: Settings) -> Routed:
    """A revert pushed to the default branch: if it reverts a merged bot fix, the fix counts as rejected."""
    repo = get_dict(payload, "repository")
    if get_str(payload, "ref") != f"refs/heads/{get_str(repo, 'default_branch')}":
        return ignore("push is not to the default branch")
    reverted = sorted(
        {sha for c in get_list(payload, "commits") for sha in _REVERTS.findall(opt_str(c, "message") or "")}
    )
    if not reverted:
        return ignore("push reverts no commit")
    args = _base_args(payload) | {"reverted": reverted, "pusher": opt_str(payload.get("pusher"), "name")}
    job_id = f"revert:{args['repo_id']}:{get_str(payload, 'after')}"
    return Routed([JobRequest(names.RECORD_REVERT, job_id, args)])


@handles("installation", "installation_repositories")
def _installation(payload: JSON, settings: Settings) -> Routed:
    inst_id = _installation_id(payload)
    inst = get_dict(payload, "installation")
    action = get_str(payload, "action")
    lists = {
        key: sorted(get_str(r, "full_name") for r in get_list(payload, key))
        for key in ("repositories", "repositories_added", "repositories_removed")
    }
    args = {
        "installation_id": inst_id,
        "action": action,
        "account": opt_str(inst.get("account"), "login"),
        "sender": opt_str(payload.get("sender"), "login"),
        **lists,
    }
    # what changed, so two different changes on one installation are two records
    digest = hashlib.sha256(repr(sorted(lists.items())).encode()).hexdigest()[:12]
    job_id = f"install:{inst_id}:{action}:{inst.get('updated_at')}:{digest}"
    return Routed([JobRequest(names.RECORD_INSTALLATION, job_id, args)])


__all__ = ["JobRequest", "MalformedPayload", "Routed", "handled_events", "route"]
