"""The patch guard: may this diff, written by an untrusted model, be applied? Standard library only.

The patch engine checks every candidate with it, and `sandbox_runner run` checks again before
`git apply` (defence in depth). `check_patch` returns the reasons to refuse, each naming the path and
the rule; an empty list means the patch may go in. The rules are documented in
`docs/sandbox-protocol.md` ("Patch guard").
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from sandbox_runner.gitdiff import FilePatch, parse_diff
from sandbox_runner.pathglob import first_match

DEFAULT_FORBIDDEN: tuple[str, ...] = (
    # CI: runs with the repository's secrets once the bot's branch is pushed
    ".github/workflows/**",
    ".github/actions/**",  # composite actions run inside those workflows, with the same secrets
    ".gitlab-ci.yml",
    ".circleci/**",
    ".travis.yml",
    "azure-pipelines.yml",
    ".buildkite/**",
    "Jenkinsfile",
    # the bot's own configuration, ownership and git plumbing
    ".github/autofix.yml",
    ".github/autofix.yaml",
    "CODEOWNERS",
    ".gitmodules",
    ".gitattributes",
    # secrets-like files
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".ssh/**",
    ".aws/**",
    "**/secrets/**",
)
_SYMLINK, _GITLINK = "120000", "160000"
_FILE_MODES = ("100644", "100755")  # a plain file; anything else is a link, a submodule or a trick
# zero-width and bidi characters: invisible in a review, and the way `.g\u200bit` hides `.git`
_INVISIBLE = {"Cf"}


@dataclass(frozen=True)
class GuardPolicy:
    forbidden: tuple[str, ...] = DEFAULT_FORBIDDEN
    allowed: tuple[str, ...] = ()  # empty: anywhere not forbidden
    max_bytes: int = 200_000
    max_files: int = 30
    max_changed_lines: int = 2_000


# letters that NFKC leaves alone but a reader (or a lenient filesystem) takes for `g`, `i`, `t`
_LOOKALIKES = str.maketrans({"\u0261": "g", "\u0456": "i", "\u0131": "i", "\u03b9": "i", "\u0442": "t"})


def _is_dot_git(component: str) -> bool:
    """`.git` however spelled: any case, NTFS trailing dots/spaces and streams (`.git::$INDEX_ALLOCATION`),
    the 8.3 name, fullwidth and lookalike letters."""
    name = unicodedata.normalize("NFKC", component).casefold().translate(_LOOKALIKES)
    name = name.split(":", 1)[0].rstrip(". ")
    return name in (".git", "git~1")


def path_problems(path: str) -> list[str]:
    """Why `path` (repo-relative, as the diff names it) is not a plain path inside the repository."""
    if not path:
        return ["empty path"]
    shown = repr(path) if any(not ch.isprintable() for ch in path) else path
    if any(unicodedata.category(ch) == "Cs" for ch in path):
        return [f"invalid UTF-8 in path: {shown}"]
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        return [f"control character in path: {shown}"]
    if any(unicodedata.category(ch) in _INVISIBLE for ch in path):
        return [f"invisible or bidi character in path: {shown}"]
    if "\\" in path:
        return [f"backslash in path: {shown}"]
    if path.startswith("/") or (path[:1].isalpha() and path[1:2] == ":"):
        return [f"absolute path: {shown}"]
    parts = path.split("/")
    if ".." in parts:
        return [f"parent directory in path: {shown}"]
    if any(p in ("", ".") for p in parts):
        return [f"path not normalised: {shown}"]
    if any(_is_dot_git(p) for p in parts):
        return [f"git directory in path: {shown}"]
    return []


def _mode_problems(f: FilePatch, name: str) -> list[str]:
    modes, problems = f.modes, []
    if _SYMLINK in modes.values():
        problems.append(f"symlink change: {name} (mode {_SYMLINK})")
    if _GITLINK in modes.values():
        problems.append(f"submodule change: {name} (mode {_GITLINK})")
    odd = sorted({m for m in modes.values() if m not in _FILE_MODES})
    problems += [f"unusual file mode: {name} ({m})" for m in odd]
    if problems:
        return problems
    old, new = modes.get("old mode"), modes.get("new mode")
    if old and new and old != new:
        what = "mode-only change" if not f.hunks and not f.renamed and not f.copied else "mode change"
        problems.append(f"{what}: {name} ({old} -> {new})")
    if modes.get("new file mode", "").endswith("755"):
        problems.append(f"executable new file: {name} (mode {modes['new file mode']})")
    return problems


def _file_problems(f: FilePatch, policy: GuardPolicy, repo_dir: str | None) -> list[str]:
    name = " -> ".join(f.paths) if f.paths else f"(unnamed, line {f.line})"
    problems = [] if f.paths else [f"malformed diff: line {f.line}: a file section with no path"]
    if f.binary:
        problems.append(f"binary patch: {name}")
    problems += _mode_problems(f, name)
    for path in f.paths:
        bad = path_problems(path)
        if bad:
            problems += bad
            continue
        rule = first_match(policy.forbidden, path, casefold=True)
        if rule:
            problems.append(f"forbidden path: {path} (matches {rule})")
        elif policy.allowed and not first_match(policy.allowed, path):
            problems.append(f"path outside the allowed paths: {path} (allowed: {', '.join(policy.allowed)})")
        if repo_dir is not None:
            problems += _on_disk_problems(path, repo_dir)
    return problems


def _on_disk_problems(path: str, repo_dir: str) -> list[str]:
    root = os.path.realpath(repo_dir)
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        here = os.path.join(root, *parts[:i])
        if os.path.islink(here):
            link = "/".join(parts[:i])
            return [f"symlink in path: {path} ({link} is a symbolic link)"]
        if not os.path.lexists(here):
            break
    resolved = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, resolved]) != root:
        return [f"path resolves outside the repository: {path}"]
    return []


def check_patch(diff: str, *, policy: GuardPolicy = GuardPolicy(), repo_dir: str | None = None) -> list[str]:
    """Every reason to refuse `diff`; [] when it may be applied."""
    size = len(diff.encode("utf-8", "surrogatepass"))
    if size > policy.max_bytes:
        return [f"patch too large: {size} bytes (limit {policy.max_bytes})"]
    if not diff.strip():
        return ["empty patch"]
    if "\0" in diff:
        return ["NUL byte in patch"]
    parsed = parse_diff(diff)
    problems = list(parsed.problems)
    if not parsed.files:
        problems.append("malformed diff: no file headers (diff --git or ---/+++)")
    if len(parsed.files) > policy.max_files:
        problems.append(f"too many files: {len(parsed.files)} (limit {policy.max_files})")
    if parsed.changed_lines > policy.max_changed_lines:
        problems.append(f"too many changed lines: {parsed.changed_lines} (limit {policy.max_changed_lines})")
    for f in parsed.files:
        problems += _file_problems(f, policy, repo_dir)
    return list(dict.fromkeys(problems))


def patch_paths(diff: str) -> list[str]:
    """The repo-relative paths `diff` touches, both sides of a rename or copy, in order, once each."""
    return list(dict.fromkeys(p for f in parse_diff(diff).files for p in f.paths))
