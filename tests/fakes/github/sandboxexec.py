"""The local GitHub runs the autofix sandbox workflow for real when it is dispatched.

A dispatched workflow whose job `uses:` an `autofix-sandbox.yml` reusable workflow (the caller that
`autofix init` writes) is executed off the request path, in a thread: the reusable workflow of this
checkout (.github/workflows/autofix-sandbox.yml) is read and its jobs run like a runner would run
them — `run:` steps through bash with the step's `env:`, `actions/checkout` as a clone of the bare
repository at the ref (or, for `repository:`, this checkout's sandbox_runner), `upload-artifact` as
the run's artifacts — so `sandbox_runner run` really runs on the commit. Only the expressions that
workflow uses are understood; anything else fails the job loudly, as would `${{` inside `run:`.

Faults, set on `state.actions.sandbox` (a SandboxFaults): the run is cancelled, never finishes,
or its artifacts expire or disappear.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.fakes.github import actionruns, gitstore
from tests.fakes.github.actionstate import WorkflowRun
from tests.fakes.github.state import GitHubState, Repo

PROJECT = Path(__file__).resolve().parents[3]
REUSABLE = PROJECT / ".github" / "workflows" / "autofix-sandbox.yml"
MATRIX_WIDTH = 4
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class SandboxFaults:
    cancel: bool = False  # the run ends cancelled, nothing ran
    hold: bool = False  # the run stays in progress until `release` is set (then ends cancelled)
    release: threading.Event = field(default_factory=threading.Event)
    expire_artifacts: bool = False  # the run completes, its artifacts are already expired
    drop_artifacts: bool = False  # the run completes with no artifacts (deleted by someone)


class StepError(Exception):
    pass


def evaluate(expr: str, ctx: dict[str, Any]) -> Any:
    """The few expressions autofix-sandbox.yml uses: dotted context paths, fromJSON(), always()."""
    if expr == "always()":
        return True
    if expr.startswith("fromJSON(") and expr.endswith(")"):
        return json.loads(str(evaluate(expr[len("fromJSON(") : -1], ctx)))
    value: Any = ctx
    for part in expr.split("."):
        if not isinstance(value, dict) or not re.fullmatch(r"[A-Za-z_][\w-]*", part):
            raise StepError(f"unsupported expression: {expr}")
        value = value.get(part, "")
    return value


def expand(text: Any, ctx: dict[str, Any]) -> Any:
    """A whole-string `${{ x }}` keeps its type; embedded ones are formatted into the string."""
    if not isinstance(text, str):
        return text
    whole = _EXPR.fullmatch(text.strip())
    if whole:
        return evaluate(whole.group(1), ctx)
    return _EXPR.sub(lambda m: str(evaluate(m.group(1), ctx)), text)


def caller_inputs(repo: Repo, run: WorkflowRun) -> dict[str, Any] | None:
    """The `with:` the caller passes to an autofix-sandbox.yml reusable workflow, or None."""
    head = gitstore.rev_parse(repo.path, f"refs/heads/{repo.default_branch}")
    if head is None:
        return None
    try:
        text = gitstore.git(repo.path, "show", f"{head}:{run.path}")
        jobs = (yaml.safe_load(text) or {}).get("jobs") or {}
    except (gitstore.GitError, yaml.YAMLError, AttributeError):
        return None
    for job in jobs.values():
        if isinstance(job, dict) and "autofix-sandbox.yml@" in str(job.get("uses", "")):
            return {k: expand(v, {"inputs": run.inputs}) for k, v in (job.get("with") or {}).items()}
    return None


def on_dispatch(state: GitHubState, repo: Repo, run: WorkflowRun) -> None:
    """Called by the dispatch route: start executing the run if it is the sandbox's."""
    inputs = caller_inputs(repo, run)
    if inputs is not None:
        threading.Thread(target=execute, args=(state, repo, run, inputs), daemon=True).start()


def execute(state: GitHubState, repo: Repo, run: WorkflowRun, given: dict[str, Any]) -> None:
    faults = state.actions.sandbox or SandboxFaults()
    run.status = "in_progress"
    if faults.hold:  # until released, or cancelled through the API
        for _ in range(1200):  # a minute at most
            if faults.release.wait(0.05) or run.status == "completed":
                break
    if run.status == "completed":
        return
    if faults.cancel or faults.hold:
        actionruns.complete_run(state, repo, run, "cancelled")
        return
    workflow = yaml.safe_load(REUSABLE.read_text())
    declared = workflow[True]["workflow_call"]["inputs"]  # YAML 1.1 reads `on` as True
    inputs = {k: v.get("default", "") for k, v in declared.items()} | given
    logs: dict[str, str] = {}
    artifacts: dict[str, dict[str, bytes]] = {}
    needs: dict[str, Any] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="fake-runner-") as tmp:
        for key, job in workflow["jobs"].items():

            def one(value: Any, key: str = key, job: dict[str, Any] = job) -> tuple[bool, str, str, Any]:
                ctx = {"inputs": inputs, "needs": needs, "matrix": {"candidate": value}, "steps": {}}
                where = Path(tmp) / f"{key}-{value or 'job'}"
                where.mkdir()
                passed, log = run_job(repo, job, ctx, where, artifacts)
                outputs = {k: expand(v, ctx) for k, v in (job.get("outputs") or {}).items()}
                return passed, str(expand(job.get("name", key), ctx)), log, outputs

            matrix = expand((job.get("strategy") or {}).get("matrix", {}).get("candidate"), {"needs": needs})
            with ThreadPoolExecutor(MATRIX_WIDTH) as pool:  # matrix jobs run side by side, as on GitHub
                for passed, name, log, outputs in pool.map(
                    one, matrix if isinstance(matrix, list) else [None]
                ):
                    ok, logs[name], needs[key] = ok and passed, log, {"outputs": outputs}
            if not ok:
                break
    if faults.drop_artifacts:
        artifacts = {}
    if run.status == "completed":  # cancelled through the API while it ran
        return
    actionruns.complete_run(state, repo, run, "success" if ok else "failure", logs, artifacts)
    if faults.expire_artifacts:
        for artifact_id in run.artifact_ids:
            state.actions.artifacts[artifact_id].expires_at = state.clock() - 1


def run_job(
    repo: Repo,
    job: dict[str, Any],
    ctx: dict[str, Any],
    where: Path,
    artifacts: dict[str, dict[str, bytes]],
) -> tuple[bool, str]:
    log: list[str] = []
    failed = False
    timeout = 60.0 * float(job.get("timeout-minutes", 360))
    for step in job.get("steps") or []:
        condition = step.get("if")
        if (expand(condition, ctx) is not True) if condition else failed:
            continue
        try:
            log.append(run_step(repo, step, ctx, where, artifacts, timeout))
        except StepError as e:
            log.append(f"##[error]{e}")
            failed = True
    return not failed, "\n".join(log) + "\n"


def run_step(
    repo: Repo,
    step: dict[str, Any],
    ctx: dict[str, Any],
    where: Path,
    artifacts: dict[str, dict[str, bytes]],
    timeout: float,
) -> str:
    args = {k: expand(v, ctx) for k, v in (step.get("with") or {}).items()}
    uses = str(step.get("uses") or "")
    if uses.startswith("actions/checkout@"):
        return checkout(repo, args, where)
    if uses.startswith("actions/setup-python@"):
        return f"python {sys.version.split()[0]} from PATH"
    if uses.startswith("actions/upload-artifact@"):
        found = where / str(args["path"])
        if not found.is_file():
            raise StepError(f"no files at {args['path']}")
        artifacts[str(args["name"])] = {found.name: found.read_bytes()}
        return f"uploaded {args['name']}"
    if "run" not in step:
        raise StepError(f"the local runner does not know {uses}")
    return run_script(step, ctx, where, timeout)


def checkout(repo: Repo, args: dict[str, Any], where: Path) -> str:
    dest = where / str(args.get("path") or ".")
    if args.get("repository"):  # sandbox_runner, from this checkout
        shutil.copytree(
            PROJECT / "sandbox_runner", dest / "sandbox_runner", ignore=shutil.ignore_patterns("__pycache__")
        )
        return f"checked out {args['repository']}@{args.get('ref')}"
    ref = str(args.get("ref") or repo.default_branch)
    for argv in (
        ["clone", "-q", "--no-checkout", str(repo.path), str(dest)],
        ["-C", str(dest), "checkout", "-q", "--detach", ref],
    ):
        done = subprocess.run(["git", *argv], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StepError(f"checkout failed: {done.stderr.strip()}")
    return f"checked out {ref}"


def run_script(step: dict[str, Any], ctx: dict[str, Any], where: Path, timeout: float) -> str:
    script = str(step["run"])
    if "${{" in script:
        raise StepError("expression inside run: (a script injection); pass it through env:")
    output = where / "github_output"
    output.touch()
    env = {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", os.defpath),
        "HOME": str(where),
        "LANG": "C.UTF-8",
        "GITHUB_OUTPUT": str(output),
        "CI": "true",
    } | {k: str(expand(v, ctx)) for k, v in (step.get("env") or {}).items()}
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    try:
        done = subprocess.run(
            argv, cwd=where, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise StepError("the job's timeout-minutes passed") from None
    if step.get("id"):
        pairs = (line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        ctx["steps"][step["id"]] = {"outputs": dict(pairs)}
    if done.returncode != 0:
        raise StepError(f"exit code {done.returncode}: {done.stdout[-1000:]}{done.stderr[-2000:]}")
    return done.stdout[-4000:] + done.stderr[-4000:]
