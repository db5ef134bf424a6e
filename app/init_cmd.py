"""`autofix init [PATH]`: set a user's repository up for the sandbox, from a checkout of it.

Writes the caller workflow (`.github/workflows/autofix-sandbox.yml`: workflow_dispatch, handing the
worker's inputs to the reusable autofix-sandbox workflow) and a commented starter
`.github/autofix.yml` with set-up and test commands detected from the project's files. Never
overwrites a file; prints what to commit. `detect_commands` and the renderers are pure.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

UPSTREAM = "autofix-app/autofix"
DEFAULT_REF = "v0.1.0"
WORKFLOW_PATH = ".github/workflows/autofix-sandbox.yml"
CONFIG_PATH = ".github/autofix.yml"
TEST_EXTRAS = ("test", "tests", "testing", "dev")
REQUIREMENTS = ("requirements.txt", "requirements-test.txt", "requirements-dev.txt", "test-requirements.txt")

CALLER = """\
# Lets the autofix App test candidate fixes on this repository's runners. Written by `autofix init`.
name: autofix-sandbox
run-name: autofix-sandbox ${{ inputs.correlation_id }}
on:
  workflow_dispatch:
    inputs: {correlation_id: {required: true}, sha: {required: true}, request: {required: true}}
permissions: {contents: read}
jobs:
  sandbox:
    uses: @@UPSTREAM@@/.github/workflows/autofix-sandbox.yml@@@REF@@
    with:
      correlation_id: ${{ inputs.correlation_id }}
      sha: ${{ inputs.sha }}
      request: ${{ inputs.request }}
      runner_ref: @@REF@@
"""


@dataclass(frozen=True)
class Detected:
    setup: str | None
    test: str
    source: str  # what the commands were read from, for the message


def _pyproject(root: Path) -> Detected | None:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    extras = (data.get("project") or {}).get("optional-dependencies") or {}
    groups = data.get("dependency-groups") or {}
    extra = next((e for e in TEST_EXTRAS if e in extras), None)
    setup = f"pip install -e '.[{extra}]'" if extra else "pip install -e ."
    group = next((g for g in TEST_EXTRAS if g in groups), None)
    if group and not extra:
        setup = f"pip install -e . --group {group}"
    if "project" not in data and "poetry" in (data.get("tool") or {}):
        setup = "pip install poetry && poetry install --no-interaction"
        return Detected(setup, "poetry run python -m pytest -q", "pyproject.toml (poetry)")
    return Detected(setup, "python -m pytest -q", "pyproject.toml")


def _requirements(root: Path) -> Detected | None:
    found = [name for name in REQUIREMENTS if (root / name).is_file()]
    if not found:
        return None
    return Detected(
        " ".join(["pip install", *(f"-r {n}" for n in found)]), "python -m pytest -q", ", ".join(found)
    )


def _tox(root: Path) -> Detected | None:
    if not (root / "tox.ini").is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "tox.ini")
    except configparser.Error:
        return Detected("pip install tox", "tox", "tox.ini")
    envs = re.split(r"[\s,]+", parser.get("tox", "envlist", fallback="").strip())
    env = next((e for e in envs if e.startswith("py")), None)
    return Detected("pip install tox", f"tox -e {env}" if env else "tox", "tox.ini")


def _nox(root: Path) -> Detected | None:
    try:
        text = (root / "noxfile.py").read_text()
    except OSError:
        return None
    session = next((s for s in ("tests", "test") if re.search(rf"^def {s}\(", text, re.M)), None)
    return Detected("pip install nox", f"nox -s {session}" if session else "nox", "noxfile.py")


def detect_commands(root: Path) -> Detected:
    """pyproject, then requirements files, then tox, then nox; pytest when nothing says otherwise."""
    for probe in (_pyproject, _requirements, _tox, _nox):
        found = probe(root)
        if found is not None:
            return found
    return Detected(None, "python -m pytest -q", "nothing (defaults)")


def render_caller(upstream: str = UPSTREAM, ref: str = DEFAULT_REF) -> str:
    return CALLER.replace("@@UPSTREAM@@", upstream).replace("@@REF@@", ref)


def render_config(found: Detected) -> str:
    setup = f"setup: {found.setup}" if found.setup else "# setup: pip install -e '.[test]'"
    return f"""\
# Autofix configuration: every key is optional. Reference: docs/configuration.md of autofix.
# Read from the default branch only. Commands were detected from {found.source}; check them.
version: 1

# Installs the project's test dependencies in the sandbox (its environment is reused while the
# dependency files do not change).
{setup}
# Runs the tests. Autofix adds the failing tests' ids when it reproduces a failure.
test: {found.test}

# Check runs to watch, and branches whose failures to fix (globs).
# checks: ['*']
# branches: ['*']

# Paths a patch may never touch, besides .github/workflows/** and secret-like files.
# paths:
#   forbidden: ['migrations/**']

# limits:
#   max_open_prs: 5
#   dollars_per_day: 20
#   sandbox_minutes: 20

# pull_request:
#   draft: true
"""


def run_init(path: Path, upstream: str = UPSTREAM, ref: str = DEFAULT_REF) -> int:
    root = path.resolve()
    if not root.is_dir():
        print(f"autofix init: {path} is not a directory")
        return 2
    found = detect_commands(root)
    files = {WORKFLOW_PATH: render_caller(upstream, ref), CONFIG_PATH: render_config(found)}
    written = []
    for rel, text in files.items():
        target = root / rel
        if target.exists():
            print(f"kept {rel}: it exists (delete it first to have it written again)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(rel)
        print(f"wrote {rel}")
    if not written:
        return 1
    print(f"setup and test commands come from {found.source}: check them in {CONFIG_PATH}.")
    if WORKFLOW_PATH in written and not re.fullmatch(r"[0-9a-f]{40}", ref):
        print(f"note: {ref} is not a commit SHA; pin one (autofix init --ref SHA) so it cannot change.")
    if not (root / ".git").exists():
        print(f"note: {root} is not a git checkout; copy the files into one.")
    print("Commit them and push to the default branch (the App reads both from there only):")
    print(f"  git add {' '.join(written)}")
    print('  git commit -m "Set up autofix: sandbox workflow and config"')
    return 0
