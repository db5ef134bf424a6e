"""The set-up environment: a virtualenv built by the set-up command, once per dependency-file hash.

Standard library only. The key hashes the set-up command, the Python version and every dependency
file in the tree; the environment lives in `CACHE/env-<key>/venv` and is built under an exclusive file
lock, so concurrent runs (and concurrent jobs sharing a cache) build it once and reuse it. A failed
set-up is not cached. The set-up command keeps the host's network (it installs packages) but gets
the same scrubbed environment, PID namespace and limits as a test run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sandbox_runner.redact import redact

DEPENDENCY_GLOBS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements*.txt",
    "requirements*.in",
    "requirements/*.txt",
    "requirements/*.in",
    "constraints*.txt",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "tox.ini",
    "noxfile.py",
    "environment.yml",
)
OK_FILE = "setup.json"
LOG_TAIL_CHARS = 4000


@dataclass
class SetupOutcome:
    venv: Path | None  # None when set-up failed
    exit_code: int | None
    duration_s: float
    cached: bool
    log_tail: str = ""
    key: str = ""

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("venv")
        return data


Builder = Callable[[Path], SetupOutcome]


def dependency_key(tree: Path, setup_command: str) -> str:
    """sha256 of the set-up command, the interpreter's version and each dependency file (path and bytes)."""
    h = hashlib.sha256()
    h.update(f"{setup_command}\0{sys.version}\0{sys.executable}\0".encode())
    files = sorted({p for pattern in DEPENDENCY_GLOBS for p in tree.glob(pattern) if p.is_file()})
    for path in files:
        h.update(str(path.relative_to(tree)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:24]


def prepare(tree: Path, setup_command: str, cache: Path, build: Builder) -> SetupOutcome:
    """The environment for `tree`: from `cache` if built before, else built now by `build` (locked)."""
    key = dependency_key(tree, setup_command)
    cache.mkdir(parents=True, exist_ok=True)
    entry = cache / f"env-{key}"
    with (cache / f"env-{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = entry / OK_FILE
        if done.exists():
            saved = json.loads(done.read_text())
            return SetupOutcome(
                entry / "venv", saved.get("exit_code"), saved.get("duration_s", 0.0), True, "", key
            )
        shutil.rmtree(entry, ignore_errors=True)  # a half-built one from a crash
        entry.mkdir()
        outcome = build(entry / "venv")
        outcome.key = key
        if outcome.exit_code == 0:
            done.write_text(json.dumps(outcome.to_json()))
        else:
            shutil.rmtree(entry, ignore_errors=True)
            outcome.venv = None
        return outcome


def create_venv(venv: Path, *, with_pip: bool = True) -> str | None:
    """`python -m venv` with the runner's interpreter; the error text when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), str(venv)],
        capture_output=True,
        timeout=300,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        return redact(proc.stderr.decode(errors="replace"))[-LOG_TAIL_CHARS:]
    return None
