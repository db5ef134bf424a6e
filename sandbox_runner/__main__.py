"""`python -m sandbox_runner report LOGFILE [--json]`: the FailureReport of a CI log.

`python -m sandbox_runner run --repo DIR --command CMD …`: the sandbox runs (sandbox_runner/cli_run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from sandbox_runner.cli_run import add_run_parser, run_from_args
from sandbox_runner.report import FailureReport, build_report

EXCERPT_LINES_SHOWN = 30


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox_runner")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("report", help="print the FailureReport of a CI job log")
    r.add_argument("logfile", help="a GitHub Actions job log, `gh run view --log` output or console output")
    r.add_argument("--json", action="store_true", help="print the report as JSON")
    add_run_parser(sub)
    args = p.parse_args(argv)
    if args.command == "run" or hasattr(args, "test_command"):
        return run_from_args(args)
    return run_report(args.logfile, as_json=args.json)


def run_report(path: str, *, as_json: bool = False) -> int:
    """Print the report of the log at `path`; 2 when it cannot be read."""
    try:
        with open(path, "rb") as f:
            report = build_report(f, source={"kind": "log", "path": path})
    except OSError as e:
        print(f"sandbox_runner: cannot read {path}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(report.to_json(), indent=2) if as_json else render_text(report), flush=True)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def render_text(report: FailureReport) -> str:
    """A short summary a maintainer reads at speed."""
    fix = "fixable" if report.fixable else "not fixable by a patch"
    out = [f"class:       {report.failure_class} ({fix})"]
    if report.failing_step:
        code = f" (exit {report.exit_code})" if report.exit_code is not None else ""
        out.append(f"step:        {report.failing_step.splitlines()[0]}{code}")
    if report.failing_tests:
        shown = report.failing_tests[:10]
        more = f" (+{len(report.failing_tests) - 10} more)" if len(report.failing_tests) > 10 else ""
        out.append(f"failing:     {len(report.failing_tests)} test(s){more}")
        out.extend(f"  {t}" for t in shown)
    if report.flaky_tests:
        out.append(f"flaky:       {', '.join(report.flaky_tests[:10])}")
    if report.exception_type:
        message = (report.message or "").splitlines()[0] if report.message else ""
        out.append(f"exception:   {report.exception_type}{': ' + message if message else ''}")
    frame = report.innermost_project_frame
    if frame:
        out.append(f"at:          {frame.file}:{frame.line} in {frame.function}")
    elif report.locations:
        loc = report.locations[0]
        more = f" (+{len(report.locations) - 1} more)" if len(report.locations) > 1 else ""
        out.append(f"at:          {loc.file}:{loc.line}: {loc.message}{more}")
    if report.reproduction_command:
        out.append(f"reproduce:   {report.reproduction_command}")
    out.append(f"fingerprint: {report.fingerprint}   (parser: {report.parser})")
    if report.excerpt:
        lines = report.excerpt.splitlines()[-EXCERPT_LINES_SHOWN:]
        out.append("excerpt:")
        out.extend(f"  | {ln}" for ln in lines)
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
