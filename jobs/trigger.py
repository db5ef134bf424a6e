"""Who asked for a fix job, and what they are told when they may no longer (F9: a permission can be
taken away while the job waits in the queue, so the job asks GitHub again when it starts).

An issue job is asked for by a label (its sender) or a command (`requested_by`); a check job only by
a command (`/autofix retry` or `revise` on the bot PR): the failed check itself has no one behind it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from app.audit import append_audit
from app.job_records import PhaseRecord
from jobs.commands.permissions import LABEL, rank
from jobs.publish.body import inert

JSON = dict[str, Any]
ASKED_WITH = {"fix": "/autofix", "retry": "/autofix retry", "revise": "/autofix revise"}


def trigger_of(request: JSON) -> tuple[str, str] | None:
    """Who queued an issue job and how: (login, `label` or the command's verb); None when the request
    names nobody. A command's job names its commenter (`requested_by`), a label's its sender."""
    by_command = str(request.get("label_event") or "").startswith("command-") or "retry_of" in request
    login = str(request.get("requested_by" if by_command else "sender") or "")
    if not login:
        return None
    verb = "revise" if "revise" in request else "retry" if "retry_of" in request else "fix"
    return login, verb if by_command else LABEL


def render_revoked(login: str, trigger: str, needed: str, have: str, label: str) -> str:
    """The job's outcome when whoever queued it has lost the permission to (shown on the issue)."""
    how = f"the `{label}` label" if trigger == LABEL else f"`{ASKED_WITH.get(trigger, trigger)}`"
    return (
        f"{inert('@' + login)} asked for this with {how}, which needs {needed} permission on the "
        f"repository, and has {have} now: Autofix did nothing."
    )


def check_trigger_of(request: JSON) -> tuple[str, str] | None:
    """Who queued a check job by a command, and which: (login, `retry` or `revise`); None for a
    job a failed check started."""
    login = str(request.get("requested_by") or "")
    if not login:
        return None
    return login, "revise" if "revise" in request else "retry"


async def refusal(
    redis: Redis, phase: PhaseRecord | None, *, job_id: str, repo: str, number: int | None,
    login: str, how: str, needed: str, have: str, label: str,
) -> str | None:  # fmt: skip
    """None when `have` is enough for `how`; else the sentence the job ends with, audited as
    `trigger.refused` and the gate phase marked `permission`."""
    if rank(have) >= rank(needed):
        return None
    if phase is not None:
        phase.outcome = "permission"
    await append_audit(
        redis, "trigger.refused", job_id=job_id, repo=repo, number=number, author=login, trigger=how,
        needed=needed, permission=have,
    )  # fmt: skip
    return render_revoked(login, how, needed, have, label)
