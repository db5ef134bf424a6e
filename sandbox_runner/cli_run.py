"""The `run` subcommand: arguments to a RunConfig, one summary line per run on stdout.

Exit status: 0 when every run produced its result.json (whatever the tests did), 2 on bad arguments
or an unusable checkout.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sandbox_runner.confine import Limits, parse_user
from sandbox_runner.result import Outcome, RunResult
from sandbox_runner.run import SETUP_TIMEOUT_S, RunConfig, run_all
from sandbox_runner.summary import write_summary
from sandbox_runner.worktree import TreeError, git

DEFAULTS = Limits()


def add_run_parser(sub: Any) -> None:
    r = sub.add_parser(
        "run", help="run the test command on the baseline and on each candidate patch, confined"
    )
    add = r.add_argument
    add("--repo", required=True, type=Path, metavar="DIR", help="a git checkout at the commit to test")
    add("--command", dest="test_command", required=True, metavar="CMD", help="the test command (sh -c)")
    add("--setup", metavar="CMD", help="the set-up command (installs dependencies into $VIRTUAL_ENV)")
    add("--venv-without-pip", action="store_true", help="make the set-up venv without pip (faster)")
    add(
        "--patch",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a candidate diff; id: its stem",
    )
    add(
        "--out",
        type=Path,
        default=Path("sandbox-out"),
        metavar="DIR",
        help="OUT/<id>/result.json (%(default)s)",
    )
    add(
        "--timeout", type=float, default=DEFAULTS.timeout_s, metavar="S", help="seconds per run (%(default)s)"
    )
    add("--setup-timeout", type=float, default=SETUP_TIMEOUT_S, metavar="S", help="seconds for set-up")
    add("--cpu-seconds", type=int, default=DEFAULTS.cpu_seconds, metavar="N", help="CPU seconds per process")
    add(
        "--memory-mb",
        type=int,
        default=DEFAULTS.memory_mb,
        metavar="N",
        help="run memory, 0: none (%(default)s)",
    )
    add("--max-processes", type=int, default=DEFAULTS.max_processes, metavar="N", help="(%(default)s)")
    add(
        "--max-file-mb",
        type=int,
        default=DEFAULTS.max_file_mb,
        metavar="N",
        help="largest file (%(default)s)",
    )
    add("--max-output-mb", type=int, default=DEFAULTS.max_output_mb, metavar="N", help="kept (%(default)s)")
    add("--user", metavar="UID[:GID]", help="run set-up and tests as this user (the runner must be root)")
    add("--no-cgroup", action="store_true", help="no cgroup per run (rlimits and namespaces only)")
    add("--no-namespaces", action="store_true", help="no unshare (the host is itself a sandbox)")
    add("--parallel", type=int, default=1, metavar="N", help="runs at once (%(default)s)")
    add("--cache", type=Path, metavar="DIR", help="set-up environments, reused across runs and jobs")
    add("--forbid", action="append", default=[], metavar="GLOB", help="a path patches may not touch")
    add(
        "--failing", action="append", default=[], metavar="TEST_ID", help="a failing test: write summary.json"
    )
    add("--trace", action="store_true", help="record the functions each test runs (pytest): `coverage`")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    limits = Limits(
        timeout_s=args.timeout,
        cpu_seconds=args.cpu_seconds or None,
        memory_mb=args.memory_mb or None,
        max_processes=args.max_processes,
        max_file_mb=args.max_file_mb,
        max_output_mb=max(1, args.max_output_mb),
    )
    return RunConfig(
        repo=args.repo.resolve(),
        command=args.test_command,
        out=args.out.resolve(),
        setup=args.setup,
        patches=tuple(p.resolve() for p in args.patch),
        limits=limits,
        setup_timeout_s=args.setup_timeout,
        venv_with_pip=not args.venv_without_pip,
        user=parse_user(args.user) if args.user else None,
        cgroup=not args.no_cgroup,
        namespaces=not args.no_namespaces,
        parallel=args.parallel,
        cache=args.cache.resolve() if args.cache else None,
        forbid=tuple(args.forbid),
        failing=tuple(args.failing),
        trace=args.trace,
    )


def run_from_args(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"sandbox_runner: {e}", file=sys.stderr)
        return 2
    if cfg.user is not None and os.geteuid() != 0:
        print("sandbox_runner: --user needs the runner to be root", file=sys.stderr)
        return 2
    missing = [str(p) for p in cfg.patches if not p.is_file()]
    if missing:
        print(f"sandbox_runner: no such patch file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        git(cfg.repo, "rev-parse", "--verify", "HEAD^{commit}")
        results = run_all(cfg)
    except (TreeError, ValueError) as e:
        print(f"sandbox_runner: {e}", file=sys.stderr)
        return 2
    for result in results:
        print(render_line(result), flush=True)
    if cfg.failing:
        write_summary(cfg.out, results, list(cfg.failing), {p.stem: p for p in cfg.patches})
        print(f"summary: {cfg.out / 'summary.json'}")
    return 0


def render_line(r: RunResult) -> str:
    """`candidate: what happened` in a few words."""
    if r.patch is not None and not r.patch.applied:
        return f"{r.candidate_id}: patch refused: {r.patch.reason}"
    if r.exit_code is None and not r.timed_out:
        return f"{r.candidate_id}: not run: {r.log_tail.splitlines()[0] if r.log_tail else 'unknown reason'}"
    ended = "timed out" if r.timed_out else f"exit {r.exit_code}"
    failed = sum(t.outcome in (Outcome.FAILED, Outcome.ERROR) for t in r.tests)
    tests = f", {len(r.tests)} tests ({r.tests_source}), {failed} failed" if r.tests else ""
    limits = f", limits hit: {', '.join(r.limits_hit)}" if r.limits_hit else ""
    return f"{r.candidate_id}: {ended} in {r.duration_s:.1f}s{tests}{limits}"
