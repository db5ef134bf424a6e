"""What the worker hands the sandbox workflow: one workflow input, base64 of a small JSON document.

    {"setup": str | null, "command": str, "failing": [test ids], "timeout_s": int,
     "candidates": {id: unified diff}}

The patches travel inside the dispatch itself, so the workflow needs no write access and the bot
pushes nothing. GitHub caps a dispatch's inputs (65,535 characters in all); a request over
`MAX_REQUEST_CHARS` is refused with PatchesTooLarge before anything is sent. The workflow's own
steps (.github/workflows/autofix-sandbox.yml) decode it; the local GitHub of the tests runs those steps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

from jobs.sandbox.base import PatchesTooLarge

MAX_REQUEST_CHARS = 60_000  # below GitHub's 65,535 for all inputs, leaving room for the others


def build_request(
    setup: str | None,
    command: str,
    candidates: Mapping[str, str],
    failing: Sequence[str],
    timeout_s: float,
) -> str:
    data = {
        "setup": setup,
        "command": command,
        "failing": list(failing),
        "timeout_s": int(timeout_s),
        "candidates": dict(candidates),
    }
    encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    if len(encoded) > MAX_REQUEST_CHARS:
        sizes = ", ".join(f"{cid}: {len(diff)} chars" for cid, diff in candidates.items())
        raise PatchesTooLarge(
            f"the request is {len(encoded)} characters encoded, over {MAX_REQUEST_CHARS} ({sizes})"
        )
    return encoded
