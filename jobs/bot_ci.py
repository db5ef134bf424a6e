"""CI on the bot's own PRs: is the fix green in real CI, not only in the sandbox?

Each check run that completes on an autofix branch is recorded per commit (`autofix:botci:{repo}:{sha}`,
check name -> conclusion); the bot PR's sticky "CI" comment says where real CI stands. Autofix never
tries to fix its own branches (the loop guard): a red check here is for a person, and the comment
says what they can do.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis

from app.audit import append_audit
from app.github.client import Installation
from app.github.conversation import upsert_sticky_comment
from jobs.pr_outcome import fingerprint_of_branch

KEY = "autofix:botci:{repo_id}:{sha}"
TTL_S = 30 * 86_400
MARKER = "ci"
GREEN = frozenset({"success", "neutral", "skipped"})


def summarise(checks: dict[str, str]) -> tuple[str, str]:
    """(state, comment) for the conclusions so far: "green", "red" or "pending" (none yet)."""
    red = sorted(name for name, conclusion in checks.items() if conclusion not in GREEN)
    if not checks:
        return "pending", "Waiting for CI on this pull request."
    if red:
        names = ", ".join(f"`{n}`" for n in red[:5]) + (f" and {len(red) - 5} more" if len(red) > 5 else "")
        return "red", (
            f"**Real CI is red on this fix**: {names} did not pass, though the fix passed in the sandbox. "
            "Autofix does not fix its own branches: comment `/autofix revise <what to change>` "
            "or push a commit."
        )
    return "green", f"**Real CI is green on this fix**: {len(checks)} check(s) passed."


async def record_bot_check(
    redis: Redis, request: dict[str, Any], prefix: str, inst: Installation | None
) -> dict[str, Any]:
    key = KEY.format(repo_id=request["repo_id"], sha=request["head_sha"])
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, str(request["check_name"]), str(request.get("conclusion") or "unknown"))
        pipe.expire(key, TTL_S)
        pipe.hgetall(key)
        *_, raw = await pipe.execute()
    checks = {k.decode(): v.decode() for k, v in cast("dict[bytes, bytes]", raw).items()}
    state, text = summarise(checks)
    fingerprint = fingerprint_of_branch(prefix, str(request.get("head_branch") or ""))
    await append_audit(redis, "bot_pr.ci", repo=request.get("repo"), sha=request["head_sha"], state=state,
                       fingerprint=fingerprint, check=request["check_name"])  # fmt: skip
    owner, name = str(request["repo"]).split("/", 1)
    numbers = request.get("pull_requests") or []
    if inst is not None and numbers:
        await upsert_sticky_comment(inst, owner, name, int(numbers[0]), MARKER, text)
    return {"state": state, "checks": checks, "fingerprint": fingerprint}
