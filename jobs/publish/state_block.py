"""The hidden state block on every bot PR: versioned JSON in an HTML comment (DESIGN.md).

From the open and recently closed bot PRs, `autofix rebuild-state` (issue 9) reconstructs the Redis
records, so losing Redis loses no decisions. The JSON is written so that nothing in it can end the
HTML comment early (`--` and `>` are escaped), and `parse_state` reads only a block it can trust:
the last one in the body, of a version it knows, whose JSON is an object.
"""

from __future__ import annotations

import json
import re
from typing import Any

VERSION = 1
_BLOCK = re.compile(r"<!-- autofix-state v(\d+) (\{.*?\}) -->", re.S)


def render_state(state: dict[str, Any]) -> str:
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    # `--` and `>` can only occur inside JSON strings, where an escape means the same character
    text = text.replace("--", "-\\u002d").replace(">", "\\u003e")
    return f"<!-- autofix-state v{VERSION} {text} -->"


def parse_state(body: str | None) -> dict[str, Any] | None:
    """The state of the last well-formed block in a PR body, or None."""
    for match in reversed(list(_BLOCK.finditer(body or ""))):
        if int(match.group(1)) != VERSION:
            continue
        try:
            data = json.loads(match.group(2))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    return None
