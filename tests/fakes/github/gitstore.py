"""Real git objects in bare repositories, through git plumbing (no working trees, no porcelain)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: int  # unix seconds

    def git_env(self, role: str) -> dict[str, str]:
        return {
            f"GIT_{role}_NAME": self.name,
            f"GIT_{role}_EMAIL": self.email,
            f"GIT_{role}_DATE": f"{self.date} +0000",
        }


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A scrubbed environment: no user or system config, never a prompt."""
    base = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": tempfile.gettempdir(),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }
    return base | (extra or {})


def git(repo: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=data,
        capture_output=True,
        env=git_env(env),
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise GitError(done.returncode, done.stderr.decode(errors="replace"))
    return done.stdout.decode()


class GitError(Exception):
    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(f"git exited {code}: {stderr.strip()}")
        self.code = code


def init_bare(repo: Path, default_branch: str) -> None:
    repo.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", default_branch, str(repo)],
        env=git_env(),
        check=True,
        timeout=30,
    )
    git(repo, "config", "http.receivepack", "true")


def hash_blob(repo: Path, data: bytes) -> str:
    return git(repo, "hash-object", "-w", "-t", "blob", "--stdin", data=data).strip()


def write_tree(repo: Path, base_tree: str | None, entries: Sequence[tuple[str, str, str | None]]) -> str:
    """The tree `base_tree` with `(mode, path, sha)` entries applied; sha None deletes the path."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if base_tree:
            git(repo, "read-tree", base_tree, env=env)
        # --index-info: one "mode sha<TAB>path" line per entry; mode 0 removes the path
        lines = "".join(f"{mode if sha else 0} {sha or ZERO_SHA}\t{path}\n" for mode, path, sha in entries)
        git(repo, "update-index", "--index-info", data=lines.encode(), env=env)
        return git(repo, "write-tree", env=env).strip()


def commit_tree(
    repo: Path, tree: str, parents: list[str], message: str, author: Person, committer: Person
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    env = author.git_env("AUTHOR") | committer.git_env("COMMITTER")
    return git(repo, *args, data=message.encode(), env=env).strip()


def _person(line: str) -> Person:
    name_email, _, when = line.rpartition("> ")
    name, _, email = name_email.partition(" <")
    return Person(name, email, int(when.split()[0]))


def read_commit(repo: Path, sha: str) -> CommitInfo:
    raw = git(repo, "cat-file", "commit", sha)
    head, _, message = raw.partition("\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
    return CommitInfo(
        sha,
        fields["tree"][0],
        fields.get("parent", []),
        _person(fields["author"][0]),
        _person(fields["committer"][0]),
        message,
    )


def object_type(repo: Path, sha: str) -> str | None:
    try:
        return git(repo, "cat-file", "-t", sha).strip()
    except GitError:
        return None


def rev_parse(repo: Path, ref: str) -> str | None:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip() or None
    except GitError:
        return None


def update_ref(repo: Path, ref: str, new: str, old: str | None = None) -> None:
    git(repo, "update-ref", ref, new, *([old] if old else []))


def delete_ref(repo: Path, ref: str) -> None:
    git(repo, "update-ref", "-d", ref)


def list_refs(repo: Path, prefix: str = "refs/") -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return {name: sha for name, _, sha in (line.partition(" ") for line in out.splitlines())}


def list_tree(repo: Path, treeish: str, path: str = "", recursive: bool = False) -> list[TreeEntry]:
    spec = f"{treeish}:{path}" if path else treeish
    out = git(repo, "ls-tree", "-l", *(["-r"] if recursive else []), spec)
    entries = []
    for line in out.splitlines():
        meta, _, name = line.partition("\t")
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(mode, kind, sha, None if size == "-" else int(size), name))
    return entries


def read_blob(repo: Path, sha: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "blob", sha],
        capture_output=True,
        env=git_env(),
        check=True,
        timeout=30,
    ).stdout


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    try:
        git(repo, "merge-base", "--is-ancestor", ancestor, descendant)
    except GitError:
        return False
    return True


def merge_tree(repo: Path, base: str, head: str) -> str | None:
    """The tree of merging `head` into `base`, or None when they conflict."""
    try:
        return git(repo, "merge-tree", "--write-tree", base, head).splitlines()[0].strip()
    except GitError:
        return None


def count_commits(repo: Path, base: str, head: str) -> int:
    """How many commits `head` has that `base` lacks (what a pull request from head into base holds)."""
    return int(git(repo, "rev-list", "--count", f"{base}..{head}").strip())


def diff_stats(repo: Path, base: str, head: str) -> tuple[int, int, int]:
    """(additions, deletions, changed files) of `head` against its merge base with `base`."""
    out = git(repo, "diff", "--numstat", f"{base}...{head}")
    rows = [line.split("\t") for line in out.splitlines() if line]
    added = sum(int(r[0]) for r in rows if r[0] != "-")
    deleted = sum(int(r[1]) for r in rows if r[1] != "-")
    return added, deleted, len(rows)


def new_commits(repo: Path, before: str, after: str, ref: str, limit: int = 20) -> list[str]:
    """The commits a push of `ref` from `before` to `after` brought (oldest first, at most `limit`).

    For a new ref: the commits no other ref reaches, as GitHub lists them.
    """
    if before == ZERO_SHA:
        others = [sha for name, sha in list_refs(repo).items() if name != ref]
        shas = git(repo, "rev-list", "--reverse", after, "--not", *others).split()
    else:
        shas = git(repo, "rev-list", "--reverse", f"{before}..{after}").split()
    return shas[-limit:]


def changed_paths(repo: Path, sha: str) -> dict[str, list[str]]:
    """{"added": [...], "removed": [...], "modified": [...]} of one commit against its first parent."""
    out = git(repo, "diff-tree", "--root", "--no-commit-id", "--name-status", "-r", sha)
    kinds = {"A": "added", "D": "removed"}
    changes: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    for line in out.splitlines():
        status, _, path = line.partition("\t")
        changes[kinds.get(status[:1], "modified")].append(path)
    return changes


WORKFLOWS_DIR = ".github/workflows/"


def introduced_workflow_writes(repo: Path, sha: str) -> list[str]:
    """Workflow files (under .github/workflows/) that the commits a ref write to `sha` brings in
    (those no ref reaches yet) create or change, each against its first parent: what GitHub checks
    before letting an App without the `workflows` permission move a ref. Sorted, no duplicates."""
    out = git(
        repo, "log", "--format=", "--name-only", "--no-renames", "--diff-filter=AMT",
        "--diff-merges=first-parent", sha, "--not", "--all", "--", WORKFLOWS_DIR,
    )  # fmt: skip
    return sorted({line for line in out.splitlines() if line})
