"""Talking on issues and PRs: comments (and one sticky comment per purpose, found by a hidden
marker; a command's reply, found again among the newest comments by its own), labels, reactions, and
the permission a commenter has on the repository.

A sticky comment is ours only if its author is the App's bot account (`AUTOFIX_BOT_LOGIN`, else
`<slug>[bot]` from `GET /app`) or GitHub says the App made it (`performed_via_github_app`, set when
an App acts for a user): a marker pasted into someone else's comment does not make it ours.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

import httpx

from app.github.client import GitHubApp, Installation
from app.github.errors import NotFound
from app.github.outgoing import outgoing
from app.github.rest import PER_PAGE, Json, body, fetch_pages, items, request, segment

MARKER = "<!-- autofix:{} -->"
RECENT_PAGES = 3  # a comment looked for among the newest ones: the last 300 of the thread
_LAST = re.compile(r'<([^>]+)>\s*;\s*rel="?last"?')
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
ROLES: tuple[Permission, ...] = ("admin", "maintain", "write", "triage", "read", "none")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    user_login: str
    html_url: str


def parse_comment(data: Json) -> Comment:
    user = data.get("user") or {}
    return Comment(int(data["id"]), str(data.get("body") or ""), str(user.get("login") or ""),
                   str(data.get("html_url") or ""))  # fmt: skip


@dataclass(frozen=True)
class IssueText:
    number: int
    title: str
    body: str
    state: str
    author: str
    labels: tuple[str, ...] = ()


async def fetch_issue(inst: Installation, owner: str, repo: str, number: int) -> IssueText:
    data = body(await inst.read(request("GET", f"/repos/{owner}/{repo}/issues/{number}")))
    user = data.get("user") or {}
    title, text = str(data.get("title") or ""), str(data.get("body") or "")
    labels = tuple(
        str(label.get("name") or "") for label in data.get("labels") or [] if isinstance(label, dict)
    )
    return IssueText(number, title, text, str(data.get("state")), str(user.get("login") or ""), labels)


def render_marker(name: str) -> str:
    return MARKER.format(name)


def render_sticky(marker: str, text: str) -> str:
    """The sticky comment's body: `text`, ending with its hidden marker."""
    hidden = render_marker(marker)
    return text if hidden in text else f"{text.rstrip()}\n\n{hidden}"


def is_ours(comment: Json, app_id: int | None, bot_login: str | None) -> bool:
    via = comment.get("performed_via_github_app") or {}
    user = comment.get("user") or {}
    return (app_id is not None and via.get("id") == app_id) or (
        bot_login is not None and user.get("login") == bot_login and user.get("type") == "Bot"
    )


def parse_permission(data: Json) -> Permission:
    """`role_name` when it is one of GitHub's base roles (a custom role falls back to `permission`)."""
    for value in (data.get("role_name"), data.get("permission")):
        for role in ROLES:
            if value == role:
                return role
    return "none"


async def fetch_bot_login(app: GitHubApp) -> str:
    """The login the App comments as: the configured one, else `<slug>[bot]` (asked with the JWT)."""
    if app.settings.autofix_bot_login:
        return app.settings.autofix_bot_login
    return f"{body(await app.call(request('GET', '/app')))['slug']}[bot]"


async def create_comment(inst: Installation, owner: str, repo: str, number: int, text: str) -> Comment:
    text = outgoing(inst, owner, repo, text)
    path = f"/repos/{owner}/{repo}/issues/{number}/comments"
    return parse_comment(body(await inst.write(request("POST", path, json={"body": text}))))


async def update_comment(inst: Installation, owner: str, repo: str, comment_id: int, text: str) -> Comment:
    path = f"/repos/{owner}/{repo}/issues/comments/{comment_id}"
    text = outgoing(inst, owner, repo, text)
    return parse_comment(body(await inst.write(request("PATCH", path, json={"body": text}))))


async def upsert_sticky_comment(
    inst: Installation, owner: str, repo: str, number: int, marker: str, text: str
) -> Comment:
    """Update the bot's comment carrying `marker` on issue or PR `number`, or create it."""
    wanted, hidden = render_sticky(marker, outgoing(inst, owner, repo, text)), render_marker(marker)
    app_id, bot_login = inst.app.settings.github_app_id, await fetch_bot_login(inst.app)
    path = f"/repos/{owner}/{repo}/issues/{number}/comments"
    async with aclosing(fetch_pages(inst.read, path, max_pages=50)) as comments:
        async for item in comments:
            if hidden in str(item.get("body") or "") and is_ours(item, app_id, bot_login):
                ours = parse_comment(item)
                if ours.body == wanted:
                    return ours
                return await update_comment(inst, owner, repo, ours.id, wanted)
    return await create_comment(inst, owner, repo, number, wanted)


def parse_last_page(link: str | None) -> int:
    """The page number of a Link header's `rel="last"` URL; 1 without one (a single page)."""
    for part in (link or "").split(","):
        match = _LAST.search(part)
        if match:
            page = httpx.URL(match.group(1)).params.get("page") or ""
            return int(page) if page.isdigit() else 1
    return 1


async def fetch_recent_comments(
    inst: Installation, owner: str, repo: str, number: int, *, max_pages: int = RECENT_PAGES
) -> AsyncGenerator[Json, None]:
    """The comments of issue or PR `number`, newest first, from its last `max_pages` pages (GitHub
    lists them oldest first: the first page says which is the last, then pages are asked backwards)."""
    path = f"/repos/{owner}/{repo}/issues/{number}/comments"
    first = await inst.read(request("GET", path, params={"per_page": PER_PAGE}))
    last = parse_last_page(first.headers.get("link"))
    for page in range(last, max(last - max_pages, 0), -1):
        params = {"per_page": PER_PAGE, "page": page}
        response = first if page == 1 else await inst.read(request("GET", path, params=params))
        for item in reversed(items(response)):
            yield item


async def find_marked_comment(
    inst: Installation, owner: str, repo: str, number: int, marker: str
) -> Comment | None:
    """The bot's recent comment on `number` that ends with `marker`'s hidden comment, or None. Only the
    bot's own comments count, and the marker must close the body: quoting it (in a code block, say)
    does not make a comment the one looked for."""
    hidden = render_marker(marker)
    app_id, bot_login = inst.app.settings.github_app_id, await fetch_bot_login(inst.app)
    async with aclosing(fetch_recent_comments(inst, owner, repo, number)) as comments:
        async for item in comments:
            if str(item.get("body") or "").rstrip().endswith(hidden) and is_ours(item, app_id, bot_login):
                return parse_comment(item)
    return None


async def add_labels(inst: Installation, owner: str, repo: str, number: int, labels: list[str]) -> list[str]:
    """Add `labels` (GitHub creates unknown ones); the issue's labels afterwards."""
    path = f"/repos/{owner}/{repo}/issues/{number}/labels"
    response = await inst.write(request("POST", path, json={"labels": labels}))
    return [str(label["name"]) for label in items(response)]


async def remove_label(inst: Installation, owner: str, repo: str, number: int, label: str) -> None:
    """Remove `label`; a label that is not there (404) is already removed."""
    path = f"/repos/{owner}/{repo}/issues/{number}/labels/{quote(label, safe='')}"
    try:
        await inst.write(request("DELETE", path))
    except NotFound:
        return


async def add_reaction(
    inst: Installation,
    owner: str,
    repo: str,
    content: str,
    *,
    comment_id: int | None = None,
    issue_number: int | None = None,
) -> None:
    """React to an issue comment or to an issue/PR itself. Reacting twice is harmless (GitHub: 200)."""
    if content not in REACTIONS:
        raise ValueError(f"GitHub has no reaction {content!r}")
    if (comment_id is None) == (issue_number is None):
        raise ValueError("react to exactly one of a comment or an issue")
    target = f"comments/{comment_id}" if comment_id is not None else str(issue_number)
    path = f"/repos/{owner}/{repo}/issues/{target}/reactions"
    await inst.write(request("POST", path, json={"content": content}))


async def fetch_permission(inst: Installation, owner: str, repo: str, user: str) -> Permission:
    """`user`'s role on the repository; "none" for someone GitHub does not know (404)."""
    path = f"/repos/{owner}/{repo}/collaborators/{segment(user)}/permission"
    try:
        return parse_permission(body(await inst.read(request("GET", path))))
    except NotFound:
        return "none"
