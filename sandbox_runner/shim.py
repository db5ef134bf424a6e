"""The exec shim between the runner and the test command. Standard library only, no package imports.

The runner starts it as `python -I shim.py [options] -- argv...` (isolated mode: the checkout's
files cannot shadow it). It does what must happen in the child before `exec`, which `subprocess`
cannot do safely from a threaded parent:

  --cgroup DIR      join a cgroup (write our pid to DIR/cgroup.procs)
  --rlimit NAME=N   set a resource limit (soft N; hard N, or N+1 for cpu so SIGXCPU comes first)
  --lo-up           bring the loopback interface up (inside a fresh network namespace)
  --user UID:GID    drop to this uid and gid, with no supplementary groups (when started as root)
  --pdeathsig PPID  die (SIGKILL) when the parent dies; give up now if PPID (0: any) is already gone.
                    Last: a change of uid clears it
  --init            stay as a minimal init (pid 1 of a fresh PID namespace): run argv as a child,
                    reap every orphan, exit with argv's status (128+N when killed by signal N)

then replaces itself with argv. It exits 127 when argv cannot be started, 125 when an option fails.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import signal
import socket
import struct
import sys

RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "core": resource.RLIMIT_CORE,
}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_PDEATHSIG = 1


def bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def apply(option: str, value: str) -> None:
    if option == "--cgroup":
        with open(os.path.join(value, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    elif option == "--user":
        uid, _, gid = value.partition(":")
        os.setgroups([])
        os.setgid(int(gid or uid))
        os.setuid(int(uid))
    elif option == "--pdeathsig":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if value != "0" and os.getppid() != int(value):
            raise OSError(f"parent {value} is gone")
    elif option == "--rlimit":
        name, _, n = value.partition("=")
        soft = int(n)
        resource.setrlimit(RLIMITS[name], (soft, soft + 1 if name == "cpu" else soft))


def apply_all(options: list[str]) -> bool:
    """Apply the options in order; whether to stay as init."""
    i, init = 0, False
    while i < len(options):
        if options[i] in ("--lo-up", "--init"):
            init = init or options[i] == "--init"
            if options[i] == "--lo-up":
                bring_loopback_up()
            i += 1
        else:
            apply(options[i], options[i + 1])
            i += 2
    return init


def main(args: list[str]) -> int:
    try:
        split = args.index("--")
    except ValueError:
        print("shim: usage: shim.py [options] -- argv...", file=sys.stderr)
        return 127
    options, argv = args[:split], args[split + 1 :]
    try:
        init = apply_all(options)
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"shim: cannot confine the command: {e}", file=sys.stderr)
        return 125
    child = os.fork() if init else 0
    if child:
        return reap_until_exit(child)
    try:
        os.execvp(argv[0], argv)  # noqa: S606 - replacing itself with the command is the point
    except OSError as e:
        print(f"shim: cannot run {argv[0]}: {e.strerror}", file=sys.stderr)
    return 127


def reap_until_exit(child: int) -> int:
    """As pid 1: wait for every child (orphans included); return when `child` (the command) is gone."""
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
