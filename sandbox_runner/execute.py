"""One confined command, start to finish: its cgroup, argv, environment, output and limits hit.

Standard library only. Both the set-up command and each run's test command go through `execute`.
"""

from __future__ import annotations

import re
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path

from sandbox_runner import cgroup as cgroups
from sandbox_runner.capture import OutputCapture
from sandbox_runner.confine import MB, Isolation, Limits, User, build_argv
from sandbox_runner.proctree import MARKER, Exit, run_supervised

# what a process prints when an rlimit (rather than a cgroup) refused it something
_MEMORY_TEXT = re.compile(rb"MemoryError|Cannot allocate memory|std::bad_alloc|out of memory", re.I)
_FORK_TEXT = re.compile(rb"Resource temporarily unavailable|BlockingIOError: \[Errno 11\]")
_SHELL_FORK_TEXT = re.compile(rb"Cannot fork|fork: retry|fork: Resource temporarily")  # whatever the exit
_FSIZE_TEXT = re.compile(rb"File too large|Errno 27")


@dataclass
class Executed:
    exit: Exit
    capture: OutputCapture
    limits_hit: list[str] = field(default_factory=list)
    isolation: dict[str, bool] = field(default_factory=dict)


def execute(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    limits: Limits,
    iso: Isolation,
    spool: Path,
    isolate_network: bool = True,
    user: User | None = None,
    use_cgroup: bool = True,
) -> Executed:
    """Run `command` with `sh -c` in `cwd`, confined as far as this host allows."""
    name = cgroups.group_name(secrets.token_hex(6))
    memory = limits.memory_mb * MB if limits.memory_mb else None
    group = (
        cgroups.create(name, max_processes=limits.max_processes, memory_bytes=memory) if use_cgroup else None
    )
    argv = build_argv(
        command,
        iso,
        limits,
        isolate_network=isolate_network,
        cgroup_dirs=sorted(set(group.dirs.values())) if group else [],
        memory_in_cgroup=bool(group and "memory" in group.dirs),
        user=user,
    )
    capture = OutputCapture(spool, max_bytes=limits.max_output_mb * MB)
    try:
        done = run_supervised(
            argv,
            env=env | {MARKER: name},
            cwd=cwd,
            timeout_s=limits.timeout_s,
            capture=capture,
            cgroup=group,
        )
    finally:
        capture.close()
        hits = group.hits() if group else []
        if group:
            group.remove()
    return Executed(
        exit=done,
        capture=capture,
        limits_hit=decide_limits_hit(done, capture, hits),
        isolation=iso.report(isolate_network=isolate_network, cgroup=group is not None, user=user),
    )


def decide_limits_hit(done: Exit, capture: OutputCapture, cgroup_hits: list[str]) -> list[str]:
    """The limits a run ran into, from its exit status, its cgroup's counters and its output's ends."""
    hit = set(cgroup_hits)
    code = done.exit_code
    if code == 128 + signal.SIGXCPU:
        hit.add("cpu")
    if code == 128 + signal.SIGXFSZ:
        hit.add("file_size")
    if capture.truncated:
        hit.add("output")
    head, tail = capture.excerpts(1 << 16)
    text = (head + tail).encode(errors="replace")
    if _SHELL_FORK_TEXT.search(text):  # a shell that could not fork carries on, and may exit 0
        hit.add("processes")
    if code not in (0, None) or done.timed_out:
        if _MEMORY_TEXT.search(text):
            hit.add("memory")
        if _FORK_TEXT.search(text):
            hit.add("processes")
        if _FSIZE_TEXT.search(text):
            hit.add("file_size")
    order = ("cpu", "memory", "processes", "file_size", "output")
    return [h for h in order if h in hit]
