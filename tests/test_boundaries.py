"""The package rules of DESIGN.md, checked on the imports: `sandbox_runner` needs only the standard
library (it runs inside the sandbox); `app` uses `jobs` only to name job functions (jobs.names), except
the command-line entry points that start a worker or run a job's code in the foreground."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_MAY_START_JOBS = {"app/cli.py", "app/runners.py"}  # `autofix worker`, `fix`, `rebuild-state`


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_app_uses_jobs_only_to_name_job_functions() -> None:
    offenders = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in APP_MAY_START_JOBS:
            continue
        used = {m for m in imports(path) if m == "jobs" or m.startswith("jobs.")}
        extra = used - {"jobs", "jobs.names"}
        if extra:
            offenders[rel] = sorted(extra)
    assert offenders == {}


def test_sandbox_runner_needs_only_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    offenders = {}
    for path in sorted((ROOT / "sandbox_runner").rglob("*.py")):
        outside = {m for m in imports(path) if m.split(".")[0] not in stdlib | {"sandbox_runner"}}
        if outside:
            offenders[str(path.relative_to(ROOT))] = sorted(outside)
    assert offenders == {}
