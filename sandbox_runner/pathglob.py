"""Path globs for forbidden and allowed paths, with gitignore-like meaning. Standard library only.

- Segments are matched one by one; `*`, `?` and `[abc]` never cross a `/`.
- `**` as a whole segment matches zero or more segments: `.github/workflows/**`, `**/secrets/**`.
- A pattern without a `/` matches at any depth (`*.pem`, `.env`); one with a `/` is anchored at the
  repository root (a leading `/` is allowed and means the same).
- A pattern that matches a directory matches everything under it: `vendor` covers `vendor/a/b.py`.
"""

from __future__ import annotations

from fnmatch import fnmatchcase


def _segments_match(pattern: list[str], path: list[str]) -> bool:
    # ok[j]: pattern[:i] matches path[:j]; one row per pattern segment, so O(len(pattern) * len(path))
    ok = [True] + [False] * len(path)
    for seg in pattern:
        if seg == "**":
            for j in range(1, len(path) + 1):
                ok[j] = ok[j] or ok[j - 1]
        else:
            ok = [False] + [ok[j - 1] and fnmatchcase(path[j - 1], seg) for j in range(1, len(path) + 1)]
    return any(ok[1:])  # the whole path, or any parent directory of it


def glob_match(pattern: str, path: str, *, casefold: bool = False) -> bool:
    """Whether repo-relative `path` (forward slashes) is matched by `pattern`."""
    if casefold:
        pattern, path = pattern.casefold(), path.casefold()
    pattern = pattern.strip().rstrip("/")
    if not pattern:
        return False
    if "/" not in pattern:
        pattern = "**/" + pattern
    segments = [s for s in pattern.lstrip("/").split("/") if s]
    return _segments_match(segments, path.split("/"))


def first_match(patterns: tuple[str, ...], path: str, *, casefold: bool = False) -> str | None:
    return next((p for p in patterns if glob_match(p, path, casefold=casefold)), None)
