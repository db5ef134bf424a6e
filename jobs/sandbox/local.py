"""LocalSandbox: `python -m sandbox_runner run` in a subprocess on this host.

The confinement (scrubbed environment, no network where the OS allows, resource limits, killing
the whole process tree on timeout) is the runner's own; this backend makes a checkout of the commit
in a temporary directory, writes the candidate patches next to it, starts the runner, and reads the
`result.json` files it writes. The runner process itself gets a minimal environment too: nothing of
the worker's settings or tokens reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import sandbox_runner
from app.github.git_auth import clone_url, git_env
from jobs.sandbox.base import (
    DEFAULT_LIMITS,
    Limits,
    ResultsMissing,
    RunTimedOut,
    SandboxUnavailable,
    check_setup,
    order_results,
)
from sandbox_runner.result import BASELINE, RunResult

REPO_NAME = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RUNNER_ROOT = Path(sandbox_runner.__file__).resolve().parent.parent
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
GIT_S = 300.0


def check_candidate_ids(candidates: Mapping[str, str]) -> None:
    for cid in candidates:
        if cid == BASELINE or not SAFE_ID.match(cid):
            raise ValueError(f"candidate id {cid!r} must be a short file stem other than {BASELINE!r}")


def build_runner_argv(
    python: str,
    checkout: Path,
    setup: str | None,
    command: str,
    patches: Sequence[Path],
    out: Path,
    limits: Limits,
    failing: Sequence[str],
    cache: Path | None,
) -> list[str]:
    argv = [python, "-m", "sandbox_runner", "run", "--repo", str(checkout), "--command", command]
    argv += ["--setup", setup] if setup else []
    for patch in patches:
        argv += ["--patch", str(patch)]
    argv += ["--timeout", str(int(limits.timeout_s)), "--out", str(out), "--parallel", str(limits.parallel)]
    argv += ["--cache", str(cache)] if cache else []
    argv += ["--trace"] if limits.trace else []
    for test in failing:
        argv += ["--failing", test]
    return argv


def descendants(root: int) -> list[int]:
    """`root`'s children, their children, …, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL `pid`'s session and every descendant: the runner starts each run in a session (and
    namespaces) of its own, which a kill of the runner's group alone would leave running."""
    tree = descendants(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for child in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)


def runner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
    return env | {"PYTHONPATH": str(RUNNER_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def write_patches(where: Path, candidates: Mapping[str, str]) -> list[Path]:
    """One `<id>.patch` per candidate: the runner names each run after its patch file's stem."""
    where.mkdir(parents=True, exist_ok=True)
    for cid, diff in candidates.items():
        (where / f"{cid}.patch").write_text(diff)
    return [where / f"{cid}.patch" for cid in candidates]


def read_results(out: Path) -> list[RunResult]:
    found = []
    for path in sorted(out.glob("*/result.json")) if out.is_dir() else []:
        found.append(RunResult.from_json(json.loads(path.read_text())))
    return found


async def _exec(
    *argv: str, cwd: Path | None = None, limit_s: float = GIT_S, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run `argv` in its own session; kill the session on timeout. (exit code, output tail)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env or runner_env() | {"GIT_TERMINAL_PROMPT": "0"},
        start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    except (TimeoutError, asyncio.CancelledError):
        kill_tree(proc.pid)
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, output.decode(errors="replace")[-2000:]


async def fetch_checkout(source: str, sha: str, into: Path, token: str | None = None) -> None:
    """A work tree of `source` (a path or clone URL) at `sha`. With `token` (an installation token),
    git gets it from a credential helper for that origin only (app/github/git_auth.py): it is never
    in a URL, a file, an argument or the runner's environment."""
    fetch_env = git_env(token, source) if token else None
    steps = [
        (("git", "init", "-q", str(into)), None),
        (("git", "-C", str(into), "fetch", "-q", "--depth", "1", "--no-tags", source, sha), fetch_env),
        (("git", "-C", str(into), "checkout", "-q", "--detach", "FETCH_HEAD"), None),
    ]
    for argv, env in steps:
        code, output = await _exec(*argv, env=env)
        if code != 0:
            raise SandboxUnavailable(f"cannot check out {sha[:12]}: {output.strip()[-300:]}")


class LocalSandbox:
    """Runs `sandbox_runner` here, confined by the runner itself. `cache` keeps set-up environments.

    `repo` is a local path or a clone URL; with `api_url` (GITHUB_API_URL) it may also be
    `owner/name`, cloned from that GitHub. `token` (e.g. `Installation.token`) authenticates clones."""

    def __init__(
        self,
        cache: Path | None = None,
        python: str = sys.executable,
        token: Callable[[], Awaitable[str]] | None = None,
        api_url: str | None = None,
    ) -> None:
        self.cache, self.python, self.token, self.api_url = cache, python, token, api_url

    def source_of(self, repo: str) -> str:
        if self.api_url and REPO_NAME.match(repo):
            owner, name = repo.split("/")
            return clone_url(self.api_url, owner, name)
        return repo

    async def run(
        self,
        repo: str,
        sha: str,
        setup: str | None,
        command: str,
        candidates: Mapping[str, str],
        *,
        failing: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> list[RunResult]:
        check_candidate_ids(candidates)
        with tempfile.TemporaryDirectory(prefix="autofix-sandbox-") as tmp:
            work = Path(tmp)
            source = self.source_of(repo)
            token = await self.token() if self.token and "://" in source else None
            await fetch_checkout(source, sha, work / "repo", token)
            patches = write_patches(work / "patches", candidates)
            out = work / "out"
            argv = build_runner_argv(
                self.python, work / "repo", setup, command, patches, out, limits, failing, self.cache
            )
            try:
                code, output = await _exec(*argv, cwd=work, limit_s=limits.wait_s)
            except TimeoutError:
                raise RunTimedOut(f"the runner did not finish within {limits.wait_s:.0f}s") from None
            found = read_results(out)
            if not found:
                raise SandboxUnavailable(f"the runner exited with {code}: {output.strip()[-300:]}")
            try:
                results = order_results(found, list(candidates))
            except ResultsMissing as e:
                raise ResultsMissing(f"{e}; runner exited with {code}: {output.strip()[-300:]}") from None
            check_setup(results)
            return results
