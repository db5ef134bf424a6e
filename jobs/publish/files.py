"""The files a patch produces: a diff applied to a scratch copy of the read-only workspace.

The Git Data API commits whole files, so publishing needs each changed path's new text (None for a
deleted one). `git apply` only writes files; it runs nothing from the repository. The patch has
passed the guard before it gets here (no symlinks, no binaries, no paths outside the repository).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from unidiff.patch import PatchSet

_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false"]


class PatchDoesNotApply(ValueError):
    pass


def changed_paths(diff: str) -> dict[str, bool]:
    """path -> whether it still exists after the patch (renames: the old path is deleted)."""
    out: dict[str, bool] = {}
    for f in PatchSet(diff):
        if f.is_rename:
            out[f.source_file.removeprefix("a/")] = False
        out[f.path] = not f.is_removed_file
    return out


def files_after(workspace: Path, diff: str) -> dict[str, str | None]:
    """Each changed path's text after applying `diff` to `workspace`'s HEAD (None when deleted)."""
    with tempfile.TemporaryDirectory(prefix="autofix-publish-") as scratch:
        tree = Path(scratch) / "tree"
        _run([*_GIT, "-C", str(workspace), "worktree", "add", "--detach", "--quiet", str(tree), "HEAD"])
        try:
            result = subprocess.run(
                [*_GIT, "-C", str(tree), "apply", "--whitespace=nowarn", "-"],
                input=diff.encode(),
                capture_output=True,
                timeout=60,
            )
            if result.returncode != 0:
                raise PatchDoesNotApply(result.stderr.decode(errors="replace").strip()[:500])
            return {
                path: (tree / path).read_text(encoding="utf-8") if exists else None
                for path, exists in changed_paths(diff).items()
            }
        finally:
            _run([*_GIT, "-C", str(workspace), "worktree", "remove", "--force", str(tree)])


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
