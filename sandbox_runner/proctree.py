"""Start a confined command, pump its output into a capture, and kill its whole tree when done.

Standard library only. The command runs in its own session. At the deadline, and again when it
exits on its own, everything it started is killed: the run's cgroup (every member, whatever session
it moved to), the session's process group (which, through `unshare --kill-child`, kills the PID
namespace's init and with it every process in the namespace), and, for hosts with neither, a sweep
of /proc for descendants and for processes carrying the run's marker variable.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox_runner.capture import OutputCapture
from sandbox_runner.cgroup import Cgroup

CHUNK = 1 << 16
DRAIN_S = 2.0  # after the command is gone, how long to wait for the pipe's last bytes
MARKER = "AUTOFIX_SANDBOX_RUN"  # in every run's environment, so a /proc sweep can find strays


@dataclass
class Exit:
    exit_code: int | None  # None when the runner killed it at the deadline
    timed_out: bool
    duration_s: float


def run_supervised(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float,
    capture: OutputCapture,
    cgroup: Cgroup | None,
) -> Exit:
    """Run `argv` to completion or to the deadline; nothing it started outlives this call."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    marker = env.get(MARKER, "")

    def kill() -> None:
        kill_tree(proc.pid, cgroup, marker)

    try:
        timed_out = pump(proc, proc.stdout.fileno(), capture, start + timeout_s, kill)
    finally:
        kill()  # also on an exception in the runner: nothing may outlive the run
        proc.stdout.close()
        proc.wait()
    code = None if timed_out else _shell_code(proc.returncode)
    return Exit(exit_code=code, timed_out=timed_out, duration_s=round(time.monotonic() - start, 3))


def pump(
    proc: subprocess.Popen[bytes], fd: int, capture: OutputCapture, deadline: float, kill: Callable[[], None]
) -> bool:
    """Copy output to `capture` until EOF; kill at the deadline. True when the deadline killed it.

    The command is never reaped here: while it is a zombie its pid (and process group id) cannot be
    reused, so the kills that follow cannot hit an unrelated process."""
    timed_out, drain_until, eof = False, None, False
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not eof:
            now = time.monotonic()
            if drain_until is None and (exited(proc.pid) or now >= deadline):
                timed_out = not exited(proc.pid)
                kill()  # strays that still hold the pipe open go with it
                drain_until = time.monotonic() + DRAIN_S
            elif drain_until is not None and now >= drain_until:
                break
            if sel.select(timeout=0.05):
                data = os.read(fd, CHUNK)
                eof = not data
                capture.feed(data)
    while not exited(proc.pid):  # it closed its output but kept running
        if time.monotonic() >= deadline:
            timed_out = True
            kill()
            break
        time.sleep(0.05)
    return timed_out


def exited(pid: int) -> bool:
    """Whether our child `pid` has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def kill_tree(pid: int, cgroup: Cgroup | None, marker: str) -> None:
    """SIGKILL `pid`'s session and everything it started, by every means this host offers."""
    strays = descendants(pid) | (marked(marker) if marker else set())
    if cgroup is not None:
        cgroup.kill_all()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for _ in range(50):
        strays |= descendants(pid) | (marked(marker) if marker else set())
        strays.discard(os.getpid())
        alive = {p for p in strays if _alive(p)}
        if not alive:
            return
        for p in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        strays = alive
        time.sleep(0.01)


def descendants(root: int) -> set[int]:
    """Every process whose parent chain leads to `root` (read from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(marker: str) -> set[int]:
    """Processes whose environment carries `MARKER=marker` (readable for our own uid, or as root)."""
    needle = f"{MARKER}={marker}".encode()
    found = set()
    for pid in _pids():
        with contextlib.suppress(OSError):
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.add(pid)
    return found


def _pids() -> list[int]:
    with contextlib.suppress(OSError):
        return [int(d) for d in os.listdir("/proc") if d.isdigit()]
    return []


def _alive(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _shell_code(returncode: int) -> int:
    """A signal death as the shell reports it (128+N), whichever layer saw it."""
    return 128 - returncode if returncode < 0 else returncode
