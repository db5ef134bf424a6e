"""Small git repositories and a driver for `python -m sandbox_runner run`, for the sandbox tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox_runner.result import RunResult

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRETS = {
    "GITHUB_TOKEN": "ghs_sandboxtestsecret0000000000000000000",
    "ANTHROPIC_API_KEY": "sk-ant-api03-sandboxtestsecret000000000000",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIsandboxtestsecretKEY00000000",
}
GIT_ID = ["-c", "user.email=test@example.com", "-c", "user.name=test", "-c", "commit.gpgsign=false"]


def make_repo(where: Path, files: dict[str, str]) -> Path:
    """A git repository at `where` with `files` committed."""
    where.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", str(where)], check=True)
    subprocess.run(["git", "-C", str(where), "add", "-A"], check=True)
    subprocess.run(["git", *GIT_ID, "-C", str(where), "commit", "-q", "-m", "init"], check=True)
    return where


def make_patch(repo: Path, where: Path, changes: Mapping[str, str | None]) -> Path:
    """A diff of `changes` (path: new text, None deletes) against HEAD, saved at `where`."""
    for name, text in changes.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    diff = subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached", "--binary", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "HEAD"], check=True)
    where.write_bytes(diff)
    return where


def runner_argv(repo: Path, command: str, out: Path, *extra: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "sandbox_runner",
        "run",
        "--repo",
        str(repo),
        "--command",
        command,
        "--out",
        str(out),
        *extra,
    ]


def runner_env() -> dict[str, str]:
    """The worker's environment, secrets included: the runner must keep them from the command."""
    return {**os.environ, **SECRETS, "PYTHONPATH": str(ROOT)}


def run_runner(
    repo: Path, command: str, out: Path, *extra: str, timeout: float = 50
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        runner_argv(repo, command, out, *extra),
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def result(out: Path, candidate: str = "baseline") -> RunResult:
    return RunResult.from_json(json.loads((out / candidate / "result.json").read_text()))


def raw_result(out: Path, candidate: str = "baseline") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / candidate / "result.json").read_text())
    return data


def pids_with(token: str) -> set[int]:
    """Host pids of live (non-zombie) processes whose command line contains `token`."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline and state != "Z":
            found.add(int(entry))
    return found
