"""Who queued an issue job (F9) and when its PR must be a draft (F3): the pure decisions, over the
requests that the label route and the `/autofix`, `retry` and `revise` commands really make."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.commands.permissions import LABEL
from jobs.issue_attempt import OUTSIDER_NOTE, UNPROVEN_NOTE, Drafting, decide_draft
from jobs.trigger import render_revoked, trigger_of

LABELLED = {
    "repo_id": 1,
    "repo": "o/r",
    "issue_number": 5,
    "label_event": "2026-11-21T07:00:00Z",
    "sender": "lea",
}
FIX = LABELLED | {"label_event": "command-77", "sender": "cy", "requested_by": "cy", "command_id": 77}
RETRY_OF_LABEL = LABELLED | {"retry_of": "issue:1:5:x", "requested_by": "max", "command_id": 78}
REVISE = RETRY_OF_LABEL | {"revise": {"number": 9, "branch": "autofix/issue-5", "head_sha": "a" * 40}}


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (LABELLED, ("lea", LABEL)),
        (FIX, ("cy", "fix")),
        (RETRY_OF_LABEL, ("max", "retry")),  # the commenter who asked again, not the first labeller
        (REVISE, ("max", "revise")),
        (LABELLED | {"sender": None}, None),  # a request that names nobody is not checked
    ],
)
def test_the_trigger_is_whoever_asked_last(
    request_: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    assert trigger_of(request_) == expected


def test_the_refusal_names_the_trigger_and_pings_nobody() -> None:
    text = render_revoked("lea", LABEL, "triage", "read", "fix-me")
    assert text == (
        "@\u200blea asked for this with the `fix-me` label, which needs triage permission on the "
        "repository, and has read now: Autofix did nothing."
    )
    assert "with `/autofix`, which" in render_revoked("cy", "fix", "write", "none", "autofix")
    assert "with `/autofix retry`, which" in render_revoked("max", "retry", "write", "none", "autofix")


@pytest.mark.parametrize(
    ("unproven", "configured", "author_can_write", "expected"),
    [
        (False, False, True, Drafting(False, "", False)),  # a writer's issue, proven, config: ready
        (False, True, True, Drafting(True, "", False)),  # the config asks for drafts: no note needed
        (False, False, False, Drafting(True, OUTSIDER_NOTE, True)),  # F3: an outsider's issue
        (False, True, False, Drafting(True, OUTSIDER_NOTE, True)),  # a draft anyway; people see why
        (True, False, True, Drafting(True, UNPROVEN_NOTE, True)),
        (True, False, False, Drafting(True, UNPROVEN_NOTE + OUTSIDER_NOTE, True)),
    ],
)
def test_the_pr_is_a_draft_when_unproven_configured_or_from_an_outsider(
    unproven: bool, configured: bool, author_can_write: bool, expected: Drafting
) -> None:
    decided = decide_draft(unproven=unproven, configured=configured, author_can_write=author_can_write)
    assert decided == expected


def test_the_outsider_note_is_one_line() -> None:
    assert OUTSIDER_NOTE.strip().count("\n") == 0
    assert "without write access" in OUTSIDER_NOTE
    assert "Draft:" not in OUTSIDER_NOTE  # where GitHub refuses drafts the PR opens ready: still true
