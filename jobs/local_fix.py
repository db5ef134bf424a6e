"""`autofix fix PATH`: the same engine as the bot, on a local checkout, with the LocalSandbox.

The failure comes from a CI log (`--log`), an issue's text (`--issue`), or from running `--command`
in the sandbox. The proven diff is applied to the working tree unless `--dry-run`; nothing unproven
is ever applied. Progress goes to stderr; the result to stdout (text, or JSON with `--json`).
Exit codes: 0 a proven fix (or nothing failing), 1 no proven fix, 2 bad input or settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from app.repo_config import RepoConfigError, parse_repo_config
from app.settings import Settings
from jobs.deps import guard_policy
from jobs.patch.agent import build_engine
from jobs.patch.localize import build_context
from jobs.patch.prompts import Task
from jobs.repair import Repair, RepairInputs, engine_steps, repair
from jobs.sandbox.base import Limits, SandboxError
from jobs.sandbox.local import LocalSandbox
from sandbox_runner.report import FailureReport, build_report


class FixInputError(Exception):
    """Bad input: the message says what to change."""


@dataclass(frozen=True)
class FixRequest:
    path: Path
    command: str | None = None
    log: Path | None = None
    issue: Path | None = None
    dry_run: bool = False
    print_context: bool = False
    as_json: bool = False


def _git(path: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise FixInputError(f"{path} is not a git checkout: {done.stderr.strip()}")
    return done.stdout.strip()


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise FixInputError(f"cannot read the {what} {path}: {e.strerror or e}") from None


def _progress(out: TextIO, quiet: bool) -> Any:
    async def say(phase: str) -> None:
        if not quiet:
            print(f"· {phase}…", file=out, flush=True)

    return say


async def _failure_from_command(
    req: FixRequest, sandbox: LocalSandbox, sha: str, limits: Limits, setup: str | None
) -> tuple[FailureReport | None, dict[str, Any] | None]:
    """The failure the test command shows (None: it passes), and which functions each test ran."""
    assert req.command
    traced = replace(limits, trace=True)
    (baseline,) = await sandbox.run(str(req.path), sha, setup, req.command, {}, limits=traced)
    if baseline.exit_code == 0:
        return None, None
    if baseline.report is None:
        raise FixInputError(f"`{req.command}` failed but its output names no failure to fix")
    return FailureReport.from_json(baseline.report), baseline.coverage


def render_result(result: Repair, applied: bool, dry_run: bool) -> str:
    best = result.best()
    lines = [f"candidates: {len(result.candidates)} · ${result.usage.dollars:.2f} spent"]
    for v in result.verdicts:
        lines.append(f"  {v.candidate_id}: {'proven' if v.proven else 'not proven'} — {v.reason}")
    chosen = result.candidate(best.candidate_id) if best else None
    if chosen is None:
        return "\n".join([*lines, "", "No fix was proven: nothing was applied."])
    if chosen.diagnosis:
        d = chosen.diagnosis
        lines += [
            "",
            f"root cause:  {d.root_cause}",
            f"where:       {d.where}",
            f"why:         {d.why_fix_is_right}",
        ]
        lines.append(f"not covered: {d.not_covered}")
    state = "applied to the working tree" if applied else ("not applied (--dry-run)" if dry_run else "")
    return "\n".join(
        [*lines, "", chosen.diff.rstrip(), "", f"Proven fix {chosen.id}, {state}.".replace(", .", ".")]
    )


async def run_fix(req: FixRequest, load: Any, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`load` builds the Settings (called only when a model is needed)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return await _run(req, load, out, err)
    except (FixInputError, RepoConfigError, SandboxError) as e:
        print(f"autofix fix: {e.render() if isinstance(e, SandboxError) else e}", file=err)
        return 2


async def _run(req: FixRequest, load: Any, out: TextIO, err: TextIO) -> int:
    sha = _git(req.path, "rev-parse", "HEAD")
    config_file = req.path / ".github" / "autofix.yml"
    config = parse_repo_config(config_file.read_text() if config_file.is_file() else None)
    command = req.command or config["test"]
    issue_text = _read(req.issue, "issue file") if req.issue else None
    report = build_report(_read(req.log, "log"), source="log", repo_command=command) if req.log else None
    if req.print_context:
        context = build_context(req.path, report=report, issue_text=issue_text)
        print(json.dumps(context.to_json(), indent=2), file=out)
        return 0
    settings: Settings = load()
    sandbox = LocalSandbox(cache=settings.autofix_data_dir / "sandbox-cache")
    limits = Limits(timeout_s=60.0 * int(config["limits.sandbox_minutes"]))
    trace: dict[str, Any] | None = None  # with --log or --issue nothing runs first, so no trace
    if report is None and issue_text is None:
        if not command:
            raise FixInputError("say what fails: --log FILE, --issue FILE or --command CMD")
        req = FixRequest(**(asdict(req) | {"command": command}))
        report, trace = await _failure_from_command(req, sandbox, sha, limits, config["setup"])
        if report is None:
            print(f"Nothing to fix: `{command}` passes.", file=out)
            return 0
    command = command or (report.reproduction_command if report else None)
    if not command:
        raise FixInputError("no test command: pass --command, or set `test:` in .github/autofix.yml")
    engine = build_engine(settings, config)
    policy = guard_policy(config)
    scratch = (settings.autofix_data_dir / "work" / f"local-{sha[:12]}").resolve()
    propose_step, refine_step = engine_steps(
        engine, req.path, scratch, k=int(config["candidates"]), policy=policy
    )
    try:
        result = await repair(
            RepairInputs(
                req.path, str(req.path), sha, command, Task(report, issue_text), config["setup"], trace=trace
            ),
            sandbox=sandbox,
            propose=propose_step,
            refine=refine_step,
            limits=limits,
            on_phase=_progress(err, req.as_json),
        )
    finally:
        await engine.providers.aclose()
    return _finish(req, result, out)


def _finish(req: FixRequest, result: Repair, out: TextIO) -> int:
    best = result.best()
    chosen = result.candidate(best.candidate_id) if best else None
    applied = False
    if chosen is not None and not req.dry_run:
        done = subprocess.run(
            ["git", "-C", str(req.path), "apply", "-"], input=chosen.diff, text=True, capture_output=True
        )
        applied = done.returncode == 0
    if req.as_json:
        data = {
            "proven": chosen is not None,
            "applied": applied,
            "chosen": chosen.to_json() if chosen else None,
            "candidates": [c.to_json() for c in result.candidates],
            "verdicts": [asdict(v) for v in result.verdicts],
            "usage": asdict(result.usage),
            "context": result.context.to_json(),
        }
        print(json.dumps(data, indent=2), file=out)
    else:
        print(render_result(result, applied, req.dry_run), file=out)
    return 0 if chosen is not None else 1
