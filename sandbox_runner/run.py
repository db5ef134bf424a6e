"""`sandbox_runner run`: the baseline and each candidate, from a clean tree, confined; one result.json each.

Standard library only. For each run: a fresh worktree of HEAD, the patch re-checked by the patch
guard and applied, the test command run under `execute` (scrubbed environment, namespaces, cgroup,
limits, timeout), its per-test outcomes read from JUnit XML (pytest) or from the output's parsers,
and a RunResult written to `OUT/<candidate_id>/result.json`. Runs go in parallel up to `parallel`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from sandbox_runner.confine import Isolation, Limits, User, build_env, give_to, probe_isolation
from sandbox_runner.execute import Executed, execute
from sandbox_runner.patchguard import DEFAULT_FORBIDDEN, GuardPolicy, check_patch, patch_paths
from sandbox_runner.redact import redact
from sandbox_runner.result import BASELINE, PatchStatus, RunResult
from sandbox_runner.setupenv import LOG_TAIL_CHARS, SetupOutcome, create_venv, prepare
from sandbox_runner.testcmd import with_junit, with_trace
from sandbox_runner.tests_found import tests_of
from sandbox_runner.tracefile import read_trace, trace_env
from sandbox_runner.worktree import TreeError, apply_patch, clean_tree

SETUP_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class RunConfig:
    repo: Path
    command: str
    out: Path
    setup: str | None = None
    patches: tuple[Path, ...] = ()
    limits: Limits = field(default_factory=Limits)
    setup_timeout_s: float = SETUP_TIMEOUT_S
    venv_with_pip: bool = True  # False: set-up brings its own installer (`uv pip install --python …`)
    user: User | None = None  # run set-up and tests as this (uid, gid); the runner must be root
    cgroup: bool = True  # False: do not make a cgroup per run (rlimits and namespaces only)
    namespaces: bool = True  # False: no unshare (the host is itself a disposable sandbox)
    parallel: int = 1
    cache: Path | None = None
    forbid: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    trace: bool = False  # record the functions each test runs (pytest only): RunResult.coverage


def candidate_ids(patches: tuple[Path, ...]) -> list[str]:
    """Each patch file's stem; ValueError when two collide or one is not a plain name."""
    ids = [p.stem for p in patches]
    for cid in ids:
        if (
            cid == BASELINE
            or not cid
            or cid.startswith(".")
            or not all(c.isalnum() or c in "._-" for c in cid)
        ):
            raise ValueError(
                f"candidate id {cid!r} (from its patch file name) must be a plain name, not {BASELINE!r}"
            )
    dupes = sorted({c for c in ids if ids.count(c) > 1})
    if dupes:
        raise ValueError(f"two patches have the same file stem: {', '.join(dupes)}")
    return ids


def run_all(cfg: RunConfig) -> list[RunResult]:
    """Every run, written to `cfg.out` as it finishes; the results in order (baseline first)."""
    ids = candidate_ids(cfg.patches)
    iso = probe_isolation() if cfg.namespaces else Isolation()
    work = Path(tempfile.mkdtemp(prefix="autofix-sandbox-"))
    (work / "runs").mkdir()
    if cfg.user is not None:  # the command's uid may pass through, not list: run dirs have random names
        for d in (work, work / "runs"):
            d.chmod(0o711)
    try:
        setup = prepare_setup(cfg, iso, work) if cfg.setup else None
        jobs: list[tuple[str, Path | None]] = [(BASELINE, None), *zip(ids, cfg.patches, strict=True)]
        with ThreadPoolExecutor(max_workers=max(1, cfg.parallel)) as pool:
            return list(
                pool.map(lambda job: write_result(cfg.out, run_one(cfg, iso, setup, work, *job)), jobs)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_result(out: Path, result: RunResult) -> RunResult:
    where = out / result.candidate_id
    where.mkdir(parents=True, exist_ok=True)
    tmp = where / "result.json.tmp"
    tmp.write_text(json.dumps(result.to_json(), indent=2))
    tmp.replace(where / "result.json")
    return result


def run_one(
    cfg: RunConfig, iso: Isolation, setup: SetupOutcome | None, work: Path, cid: str, patch: Path | None
) -> RunResult:
    """One run in its own clean tree; a result whatever happens (a refused patch, a git error)."""
    rundir = Path(tempfile.mkdtemp(prefix=f"{cid}-", dir=work / "runs"))
    rundir.chmod(0o711)
    (rundir / "home" / "tmp").mkdir(parents=True)
    base = RunResult(candidate_id=cid, patch=None, exit_code=None, duration_s=0.0)
    base.setup = setup.to_json() if setup else None
    try:
        with clean_tree(cfg.repo, rundir / "tree") as tree:
            if patch is not None:
                base.patch = guard_and_apply(tree, patch, cfg.forbid)
                if not base.patch.applied:
                    return base
            if setup is not None and setup.venv is None:
                return replace(base, log_tail="set-up failed: the test command did not run")
            return run_in_tree(cfg, iso, setup.venv if setup else None, rundir, tree, base)
    except TreeError as e:
        return replace(base, log_tail=redact(f"git could not prepare the tree: {e}"))
    except OSError as e:  # the runner's own trouble (disk full, a cgroup gone): still a result.json
        return replace(base, log_tail=redact(f"the runner failed: {e}"))


def run_in_tree(
    cfg: RunConfig, iso: Isolation, venv: Path | None, rundir: Path, tree: Path, base: RunResult
) -> RunResult:
    home = rundir / "home"
    if cfg.user is not None:
        give_to(tree, cfg.user)
        give_to(home, cfg.user)
    env = build_env(os.environ, home=home, venv=venv, tree=tree)
    command, junit = with_junit(cfg.command, str(home / "junit.xml"))
    traced = False
    if cfg.trace:
        command, traced = with_trace(command)
        env = trace_env(home, tree, env) if traced else env
    done = execute(
        command,
        cwd=tree,
        env=env,
        limits=cfg.limits,
        iso=iso,
        spool=rundir / "output.log",
        user=cfg.user,
        use_cgroup=cfg.cgroup,
    )
    result = build_result(base, done, home / "junit.xml" if junit else None, tree)
    return replace(result, coverage=read_trace(home / "trace.json")) if traced else result


def guard_and_apply(tree: Path, patch: Path, forbid: tuple[str, ...]) -> PatchStatus:
    """Refuse the patch on any guard rule (its command then never runs), else `git apply` it."""
    diff = patch.read_bytes().decode("utf-8", errors="surrogateescape")
    try:
        files = patch_paths(diff)
    except ValueError:
        files = []
    policy = GuardPolicy(forbidden=DEFAULT_FORBIDDEN + forbid)
    problems = check_patch(diff, policy=policy, repo_dir=str(tree))
    if problems:
        return PatchStatus(applied=False, reason="; ".join(problems)[:2000], files=files)
    try:
        apply_patch(tree, patch.read_bytes())
    except TreeError as e:
        return PatchStatus(applied=False, reason=f"git apply: {e}", files=files)
    return PatchStatus(applied=True, files=files)


def build_result(base: RunResult, done: Executed, junit: Path | None, tree: Path) -> RunResult:
    head, tail = done.capture.excerpts()
    found = tests_of(done.capture, junit, tree, failed=done.exit.exit_code != 0)
    return replace(
        base,
        exit_code=done.exit.exit_code,
        duration_s=done.exit.duration_s,
        tests=found.tests,
        tests_source=found.source,
        collected=found.collected,
        report=found.report,
        log_head=redact(head),
        log_tail=redact(tail),
        timed_out=done.exit.timed_out,
        limits_hit=done.limits_hit,
        isolation=done.isolation,
    )


def prepare_setup(cfg: RunConfig, iso: Isolation, work: Path) -> SetupOutcome:
    """The set-up environment from the cache, or built now in a clean tree of HEAD (with network)."""
    assert cfg.setup is not None
    setup_command = cfg.setup
    limits = replace(cfg.limits, timeout_s=cfg.setup_timeout_s)
    home = work / "setup" / "home"
    (home / "tmp").mkdir(parents=True)
    (work / "setup").chmod(0o711)

    def build(venv: Path) -> SetupOutcome:
        error = create_venv(venv, with_pip=cfg.venv_with_pip)
        if error is not None:
            return SetupOutcome(None, None, 0.0, False, f"python -m venv failed: {error}")
        env = build_env(os.environ, home=home, venv=venv, tree=tree, setup=True)
        if cfg.user is not None:
            for path in (venv, tree, home):
                give_to(path, cfg.user)
        done = execute(
            setup_command,
            cwd=tree,
            env=env,
            limits=limits,
            iso=iso,
            spool=work / "setup" / "output.log",
            isolate_network=False,
            user=cfg.user,
            use_cgroup=cfg.cgroup,
        )
        if cfg.user is not None:  # read-only for the runs: no test may change what later runs import
            give_to(venv, (os.geteuid(), os.getegid()))
        text = redact("".join(done.capture.excerpts()))[-LOG_TAIL_CHARS:]
        return SetupOutcome(venv, done.exit.exit_code, done.exit.duration_s, False, text)

    try:
        with clean_tree(cfg.repo, work / "setup" / "tree") as tree:
            key_text = setup_command if cfg.venv_with_pip else f"{setup_command}\0without-pip"
            return prepare(tree, key_text, cfg.cache or work / "cache", build)
    except TreeError as e:
        return SetupOutcome(None, None, 0.0, False, redact(f"git could not prepare the tree: {e}"))
