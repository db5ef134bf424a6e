"""A review that requests changes on a bot PR becomes `revise`: its body and each inline comment,
with the comment's file and line, are the feedback the model gets."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from app.github.client import Installation
from app.github.errors import NotFound
from app.github.rest import fetch_pages

MAX_COMMENTS = 50
MAX_FEEDBACK_CHARS = 8000


def render_review_feedback(body: str, comments: list[dict[str, Any]]) -> str:
    """The review as one text: its body, then `path:line: comment` for each inline comment."""
    lines = [body.strip()] if body.strip() else []
    for c in comments[:MAX_COMMENTS]:
        text = str(c.get("body") or "").strip()
        if not text:
            continue
        line = c.get("line") or c.get("original_line")
        where = f"{c.get('path')}:{line}" if line else str(c.get("path"))
        lines.append(f"- {where}: {text}")
    return "\n".join(lines)[:MAX_FEEDBACK_CHARS]


async def fetch_review_comments(
    inst: Installation, owner: str, repo: str, number: int, review_id: int
) -> list[dict[str, Any]]:
    """The inline comments of one review (none when GitHub no longer has the review)."""
    path = f"/repos/{owner}/{repo}/pulls/{number}/reviews/{review_id}/comments"
    out: list[dict[str, Any]] = []
    try:
        async with aclosing(fetch_pages(inst.read, path, max_pages=2)) as pages:
            async for item in pages:
                out.append(item)
    except NotFound:
        return []
    return out
