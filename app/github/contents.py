"""Files in a repository, read through the contents API without a clone: the default branch, one
file at a ref, and the repo's `.github/autofix.yml` from the default branch only (as probot does),
so a pull request cannot change the rules it is judged by.
"""

from __future__ import annotations

import base64
import binascii

from app.github.client import Installation
from app.github.errors import GitHubError, NotFound
from app.github.rest import Json, body, request, segment

CONFIG_PATH = ".github/autofix.yml"
MAX_FILE_BYTES = 1_000_000  # the contents API inlines files up to 1 MB


def parse_file(data: Json, path: str, max_bytes: int) -> str | None:
    """The text of a contents-API answer; None for what is not a regular file (a directory,
    symlink or submodule). Raises GitHubError for a file over `max_bytes`."""
    if not isinstance(data, dict) or data.get("type") != "file":
        return None
    size = int(data.get("size") or 0)
    if size > max_bytes or data.get("encoding") == "none":
        raise GitHubError(f"{path} is {size} bytes, over the {max_bytes} byte cap")
    try:
        raw = base64.b64decode(str(data.get("content") or ""), validate=False)
    except (binascii.Error, ValueError):
        raise GitHubError(f"{path}: GitHub sent content that is not base64") from None
    return raw.decode("utf-8", errors="replace")


async def fetch_default_branch(inst: Installation, owner: str, repo: str) -> str:
    return str(body(await inst.read(request("GET", f"/repos/{owner}/{repo}")))["default_branch"])


async def read_file(
    inst: Installation,
    owner: str,
    repo: str,
    path: str,
    ref: str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
) -> str | None:
    """The text of `path` at `ref` (the default branch when None), or None when there is no such file."""
    params = {"ref": ref} if ref is not None else None
    try:
        response = await inst.read(
            request("GET", f"/repos/{owner}/{repo}/contents/{segment(path.lstrip('/'))}", params=params)
        )
    except NotFound:
        return None
    try:
        data = response.json()
    except ValueError:
        raise GitHubError(f"{path}: GitHub answered with a body that is not JSON") from None
    return parse_file(data, path, max_bytes) if isinstance(data, dict) else None


async def read_repo_config(inst: Installation, owner: str, repo: str) -> str | None:
    """`.github/autofix.yml` as text, from the default branch; None when the repo has none."""
    branch = await fetch_default_branch(inst, owner, repo)
    return await read_file(inst, owner, repo, CONFIG_PATH, ref=branch)
