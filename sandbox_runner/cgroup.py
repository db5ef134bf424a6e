"""A cgroup per run, where the host lets us make one: a pid cap (fork bombs), a memory cap, a kill list.

Standard library only. Works with cgroup v2 (`/sys/fs/cgroup/cgroup.controllers`) and with v1's
per-controller hierarchies (`/sys/fs/cgroup/pids`, `/sys/fs/cgroup/memory`). A group is created next
to (under) the runner's own cgroup; when the hierarchy is read-only, `create` returns None and the
run reports `isolation["cgroup"] = False`. Every process the command starts stays in the group,
whatever session or process group it moves to, so `kill_all` reaches detached daemons too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass
class Cgroup:
    dirs: dict[str, Path] = field(default_factory=dict)  # controller ("pids", "memory") -> group dir
    v2: bool = False

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for f in self.procs_files():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in f.read_text().split())
        return found

    def kill_all(self, rounds: int = 200) -> bool:
        """SIGKILL every member until none is left (a fork bomb is capped, so this converges)."""
        for _ in range(rounds):
            members = self.pids()
            if not members:
                return True
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        return not self.pids()

    def hits(self) -> list[str]:
        """The limits the group refused something at: "processes", "memory"."""
        hit = []
        pids = self.dirs.get("pids")
        if pids and _counter(pids / "pids.events", "max") > 0:
            hit.append("processes")
        mem = self.dirs.get("memory")
        if mem:
            if self.v2:
                oom = _counter(mem / "memory.events", "oom_kill") + _counter(mem / "memory.events", "max")
            else:
                oom = _counter(mem / "memory.oom_control", "oom_kill") + _int(mem / "memory.failcnt")
            if oom > 0:
                hit.append("memory")
        return hit

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                d.rmdir()


PREFIX = "autofix-"


def group_name(token: str) -> str:
    """`autofix-<runner pid>-<token>`: a later runner can tell a dead runner's leftovers by the pid."""
    return f"{PREFIX}{os.getpid()}-{token}"


def sweep_stale(parent: Path) -> None:
    """Remove the empty groups of runners that are gone (SIGKILLed before they could clean up)."""
    with contextlib.suppress(OSError):
        for d in parent.glob(f"{PREFIX}*-*"):
            pid = d.name[len(PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    d.rmdir()  # refused while a process is still in it


def create(name: str, *, max_processes: int, memory_bytes: int | None) -> Cgroup | None:
    """A fresh group with the pid cap (and memory cap when asked); None when the host does not allow it."""
    if (ROOT / "cgroup.controllers").exists():
        return _create_v2(name, max_processes, memory_bytes)
    group = Cgroup()
    wanted = {"pids": ("pids.max", max_processes)}
    if memory_bytes:
        wanted["memory"] = ("memory.limit_in_bytes", memory_bytes)
    for controller, (knob, value) in wanted.items():
        parent = ROOT / controller / _own_path(controller).lstrip("/")
        sweep_stale(parent)
        d = parent / name
        try:
            d.mkdir()
            group.dirs[controller] = d
            (d / knob).write_text(str(value))
        except OSError:
            if controller == "pids":
                group.remove()
                return None
            group.dirs.pop(controller, None)
            with contextlib.suppress(OSError):
                d.rmdir()
    return group


def _create_v2(name: str, max_processes: int, memory_bytes: int | None) -> Cgroup | None:
    parent = ROOT / _own_path("").lstrip("/")
    sweep_stale(parent)
    d = parent / name
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if "pids" not in enabled:
            (parent / "cgroup.subtree_control").write_text("+pids")
        d.mkdir()
        (d / "pids.max").write_text(str(max_processes))
    except OSError:
        with contextlib.suppress(OSError):
            d.rmdir()
        return None
    group = Cgroup(dirs={"pids": d}, v2=True)
    if memory_bytes:
        with contextlib.suppress(OSError):
            (d / "memory.max").write_text(str(memory_bytes))
            group.dirs["memory"] = d
    return group


def _own_path(controller: str) -> str:
    """This process's path in the hierarchy of `controller` ("" = the v2 unified one)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (controller == "" and controllers == ""):
                return path
    return "/"


def _counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _int(path: Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return 0
