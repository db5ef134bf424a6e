"""Names the bot gives things: its branches, PR titles and commit messages. Pure.

Branches are named from the fingerprint, so the same failure always maps to the same branch (a
retried or duplicated job finds its own branch instead of making a second one), and a fix aimed at
a pull request's branch gets that branch in its name so two PRs' fixes never collide.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

TITLE_CHARS = 72
_UNSAFE_REF = re.compile(r"[^A-Za-z0-9._/-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def branch_name(prefix: str, fingerprint: str, target_branch: str | None = None) -> str:
    """`autofix/v1-0123456789abcdef`, or `autofix/v1-…-for-feature-x` for a fix into a PR's branch."""
    name = prefix + fingerprint.replace(":", "-")
    if target_branch:
        slug = _UNSAFE_REF.sub("-", target_branch).replace("/", "-").strip("-.")[:40]
        name += f"-for-{slug}"
    return name.replace("..", ".").rstrip("./")


def scope_of(files: list[str]) -> str | None:
    """A conventional-commit scope from the changed files: the module, or the package of several."""
    if not files:
        return None
    stems = {_module(f) for f in files}
    return stems.pop() if len(stems) == 1 else None


def _module(path: str) -> str:
    p = PurePosixPath(path)
    parts = [x for x in p.parts[:-1] if x not in ("src", "lib", "tests", "test")]
    return p.stem if p.stem != "__init__" or not parts else parts[-1]


def summary_of(root_cause: str) -> str:
    """The first sentence of a root cause, as a title fragment: lower-case start, no final period."""
    first = _SENTENCE_END.split(" ".join(root_cause.split()), maxsplit=1)[0].rstrip(".")
    if first[:1].isupper() and not first[1:2].isupper():  # keep acronyms such as "URL"
        first = first[0].lower() + first[1:]
    return first


def pr_title(root_cause: str, files: list[str]) -> str:
    scope = scope_of(files)
    head = f"fix({scope}): " if scope else "fix: "
    summary = summary_of(root_cause) or "repair the failing check"
    if len(head) + len(summary) > TITLE_CHARS:
        summary = summary[: TITLE_CHARS - len(head) - 1].rsplit(" ", 1)[0] + "…"
    return head + summary


def revise_title(files: list[str]) -> str:
    """The subject of a follow-up commit made for review feedback (`/autofix revise`)."""
    scope = scope_of(files)
    return (f"fix({scope}): " if scope else "fix: ") + "address review feedback"


def commit_message(title: str, body: str, *, fingerprint: str, run_url: str | None, job_id: str) -> str:
    """A commit message with git trailers naming the fingerprint, the triggering run and the job."""
    trailers = [f"Autofix-Fingerprint: {fingerprint}", f"Autofix-Job: {job_id}"]
    if run_url:
        trailers.append(f"Autofix-Run: {run_url}")
    return f"{title}\n\n{body.strip()}\n\n" + "\n".join(trailers) + "\n"
