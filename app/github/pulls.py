"""Pull requests, found by head branch before one is created, so a retried job never opens a second.

Creating can still race another worker: GitHub's 422 ("A pull request already exists") sends us
back to finding it. Draft PRs are not available on every plan; if GitHub refuses a draft, the PR
is opened ready for review instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.github.client import Installation
from app.github.errors import Unprocessable
from app.github.outgoing import outgoing
from app.github.rest import Json, body, items, request


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    draft: bool
    merged: bool
    html_url: str
    head_repo: str = ""  # full name of the head's repository: another one for a fork
    base_sha: str = ""

    def from_fork(self, repo_full_name: str) -> bool:
        """A head in another repository (a fork), or one deleted since (no repository at all)."""
        return self.head_repo.lower() != repo_full_name.lower()


def parse_pull(data: Json) -> PullRequest:
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        state=str(data["state"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        draft=bool(data.get("draft")),
        merged=bool(data.get("merged") or data.get("merged_at")),
        html_url=str(data.get("html_url") or ""),
        head_repo=str((head.get("repo") or {}).get("full_name") or ""),
        base_sha=str(base.get("sha") or ""),
    )


async def find_open_pr(inst: Installation, owner: str, repo: str, head_branch: str) -> PullRequest | None:
    """The open PR from `owner:head_branch` (a branch in this repo, never a fork), if any."""
    params: dict[str, str | int] = {"head": f"{owner}:{head_branch}", "state": "open", "per_page": 10}
    found = items(await inst.read(request("GET", f"/repos/{owner}/{repo}/pulls", params=params)))
    return parse_pull(found[0]) if found else None


async def fetch_pr(inst: Installation, owner: str, repo: str, number: int) -> PullRequest:
    return parse_pull(body(await inst.read(request("GET", f"/repos/{owner}/{repo}/pulls/{number}"))))


async def find_prs_for_commit(inst: Installation, owner: str, repo: str, sha: str) -> list[PullRequest]:
    """The pull requests whose head is `sha`, forks included (a check run on a fork's commit lists no
    `pull_requests`: this is how the PR is found)."""
    found = items(await inst.read(request("GET", f"/repos/{owner}/{repo}/commits/{sha}/pulls")))
    return [pr for pr in map(parse_pull, found) if pr.head_sha == sha]


async def _create(inst: Installation, owner: str, repo: str, fields: Json) -> PullRequest:
    return parse_pull(body(await inst.write(request("POST", f"/repos/{owner}/{repo}/pulls", json=fields))))


async def update_pr(
    inst: Installation, owner: str, repo: str, number: int, *, title: str, body_text: str
) -> PullRequest:
    fields = {"title": title, "body": outgoing(inst, owner, repo, body_text)}
    response = await inst.write(request("PATCH", f"/repos/{owner}/{repo}/pulls/{number}", json=fields))
    return parse_pull(body(response))


async def open_or_update_pr(
    inst: Installation,
    owner: str,
    repo: str,
    *,
    head: str,
    base: str,
    title: str,
    body_text: str,
    draft: bool = False,
) -> tuple[PullRequest, bool]:
    """The PR from `head` into `base` with this title and body, and whether it was created now."""
    body_text = outgoing(inst, owner, repo, body_text)
    existing = await find_open_pr(inst, owner, repo, head)
    if existing is None:
        fields = {"head": head, "base": base, "title": title, "body": body_text, "draft": draft}
        try:
            return await _create(inst, owner, repo, fields), True
        except Unprocessable:
            # GitHub gives the reason only in `errors[].message`, under a bare "Validation Failed":
            # look for the PR another worker may have just opened before anything else
            existing = await find_open_pr(inst, owner, repo, head)
            if existing is None and not draft:
                raise
        if existing is None:  # a refused draft: drafts need a paid plan on private repositories
            return await _create(inst, owner, repo, fields | {"draft": False}), True
    if (existing.title, existing.body) == (title, body_text):
        return existing, False
    return await update_pr(inst, owner, repo, existing.number, title=title, body_text=body_text), False


async def close_pr(inst: Installation, owner: str, repo: str, number: int) -> PullRequest:
    path = f"/repos/{owner}/{repo}/pulls/{number}"
    return parse_pull(body(await inst.write(request("PATCH", path, json={"state": "closed"}))))
