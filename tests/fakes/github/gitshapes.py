"""Pure renderers for Git Data API objects: blobs, trees, commits, refs, branches."""

from __future__ import annotations

from typing import Any

from tests.fakes.github.gitstore import CommitInfo, Person, TreeEntry
from tests.fakes.github.shapes import iso, node_id

SIGNATURE = (
    "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJmFakeSignatureByGitHub\n-----END PGP SIGNATURE-----\n"
)


def render_person(person: Person) -> dict[str, Any]:
    return {"name": person.name, "email": person.email, "date": iso(person.date)}


def render_tree_entry(api: str, full_name: str, entry: TreeEntry) -> dict[str, Any]:
    kind = "trees" if entry.type == "tree" else "blobs"
    item: dict[str, Any] = {"path": entry.path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
    item["url"] = f"{api}/repos/{full_name}/git/{kind}/{entry.sha}"
    if entry.size is not None:
        item["size"] = entry.size
    return item


def render_tree(api: str, full_name: str, sha: str, entries: list[TreeEntry]) -> dict[str, Any]:
    return {
        "sha": sha,
        "url": f"{api}/repos/{full_name}/git/trees/{sha}",
        "tree": [render_tree_entry(api, full_name, e) for e in entries],
        "truncated": False,
    }


def render_verification(commit: CommitInfo, verified: bool, raw: str) -> dict[str, Any]:
    if not verified:
        return {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        }
    return {
        "verified": True,
        "reason": "valid",
        "signature": SIGNATURE,
        "payload": raw,
        "verified_at": iso(commit.committer.date),
    }


def render_git_commit(
    api: str, full_name: str, commit: CommitInfo, verified: bool, raw: str
) -> dict[str, Any]:
    """A commit as the Git Data API returns it (POST/GET /git/commits)."""
    url = f"{api}/repos/{full_name}/git/commits/{commit.sha}"
    return {
        "sha": commit.sha,
        "node_id": node_id("Commit", int(commit.sha[:7], 16)),
        "url": url,
        "html_url": f"https://github.com/{full_name}/commit/{commit.sha}",
        "author": render_person(commit.author),
        "committer": render_person(commit.committer),
        "message": commit.message,
        "tree": {"sha": commit.tree, "url": f"{api}/repos/{full_name}/git/trees/{commit.tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{api}/repos/{full_name}/git/commits/{p}",
                "html_url": f"https://github.com/{full_name}/commit/{p}",
            }
            for p in commit.parents
        ],
        "verification": render_verification(commit, verified, raw),
    }


def render_ref(api: str, full_name: str, ref: str, sha: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "node_id": node_id("Ref", abs(hash(ref)) % 10**9),
        "url": f"{api}/repos/{full_name}/git/{ref}",
        "object": {"sha": sha, "type": "commit", "url": f"{api}/repos/{full_name}/git/commits/{sha}"},
    }


def render_commit(api: str, full_name: str, commit: CommitInfo, verified: bool, raw: str) -> dict[str, Any]:
    """A commit as the repos API returns it (`Commit`: branches, GET /commits/{ref})."""
    git_commit = render_git_commit(api, full_name, commit, verified, raw)
    return {
        "sha": commit.sha,
        "node_id": git_commit["node_id"],
        "url": f"{api}/repos/{full_name}/commits/{commit.sha}",
        "html_url": git_commit["html_url"],
        "comments_url": f"{api}/repos/{full_name}/commits/{commit.sha}/comments",
        "commit": {
            "url": git_commit["url"],
            "author": git_commit["author"],
            "committer": git_commit["committer"],
            "message": commit.message,
            "comment_count": 0,
            "tree": git_commit["tree"],
            "verification": git_commit["verification"],
        },
        "author": None,
        "committer": None,
        "parents": git_commit["parents"],
    }


def render_branch(api: str, full_name: str, name: str, commit: dict[str, Any]) -> dict[str, Any]:
    url = f"{api}/repos/{full_name}/branches/{name}"
    return {
        "name": name,
        "commit": commit,
        "_links": {"self": url, "html": f"https://github.com/{full_name}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/protection",
    }
