"""How a command is confined: limits, the isolation this host offers, the environment, the argv.

Standard library only. The pure parts (`build_env`, `build_argv`) decide; `probe_isolation` asks the
host once what works (`unshare` of a network and a PID namespace, as root or in a user namespace).
See docs/sandbox-protocol.md, "Confinement", for what each OS gives.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SHIM = Path(__file__).with_name("shim.py")
NAMESPACES = ("--net", "--pid", "--fork", "--kill-child", "--mount-proc")
MB = 1 << 20
User = tuple[int, int]  # (uid, gid) the command runs as, when the runner is root

# variables a test command may see from the parent: none carries a credential
PASSED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
# and the set-up command too: it installs packages, so it needs the proxy and the index
PASSED_TO_SETUP = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 600.0
    cpu_seconds: int | None = None  # per process (RLIMIT_CPU)
    memory_mb: int | None = 4096  # the run's cgroup when there is one, else per process (RLIMIT_AS)
    max_processes: int = 512
    max_file_mb: int = 1024
    max_output_mb: int = 64


@dataclass(frozen=True)
class Isolation:
    """What this host lets the runner do; reported as result.json `isolation`."""

    unshare: str | None = None  # path of util-linux `unshare`, when namespaces work
    user_ns: bool = False  # namespaces need a user namespace (not root)
    network: bool = False
    pid: bool = False

    def report(self, *, isolate_network: bool, cgroup: bool, user: User | None) -> dict[str, bool]:
        return {
            "network": self.network and isolate_network,
            "pid": self.pid,
            "cgroup": cgroup,
            "unprivileged": os.geteuid() != 0 or (user is not None and user[0] != 0),
            "env_scrubbed": True,
            "rlimits": True,
        }


@functools.cache
def probe_isolation() -> Isolation:
    """Try `unshare` with the namespaces the runner wants: as is, then inside a user namespace."""
    unshare = shutil.which("unshare")
    if not sys.platform.startswith("linux") or unshare is None:
        return Isolation()
    for user in ((), ("--user", "--map-root-user")):
        if _works([unshare, *user, *NAMESPACES, "true"]):
            return Isolation(unshare=unshare, user_ns=bool(user), network=True, pid=True)
    if _works([unshare, "--user", "--map-root-user", "--net", "true"]):
        return Isolation(unshare=unshare, user_ns=True, network=True, pid=False)
    return Isolation()


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def build_env(
    parent: Mapping[str, str], *, home: Path, venv: Path | None, tree: Path | None, setup: bool = False
) -> dict[str, str]:
    """The allowlisted environment of a run: nothing from the parent that could carry a secret."""
    names = PASSED + (PASSED_TO_SETUP if setup else ())
    env = {k: parent[k] for k in names if k in parent}
    path = env.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
    tmp = str(home / "tmp")
    env |= {"HOME": str(home), "TMPDIR": tmp, "TMP": tmp, "TEMP": tmp, "TERM": "dumb", "CI": "true"}
    env |= {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "GIT_TERMINAL_PROMPT": "0"}
    env.setdefault("LANG", "C.UTF-8")
    env.setdefault("TZ", "UTC")
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        path = f"{venv / 'bin'}:{path}"
        if tree is not None and not setup:  # the patched source, not the copy set-up installed
            env["PYTHONPATH"] = f"{tree / 'src'}:{tree}"
    env["PATH"] = path
    return env


def build_argv(
    command: str,
    iso: Isolation,
    limits: Limits,
    *,
    isolate_network: bool,
    cgroup_dirs: list[Path],
    memory_in_cgroup: bool,
    user: User | None = None,
    python: str = sys.executable,
) -> list[str]:
    """shim (cgroup, rlimits) → unshare (namespaces) → shim as init (loopback up) → sh -c command."""
    outer = [python, "-I", str(SHIM)]
    for d in cgroup_dirs:
        outer += ["--cgroup", str(d)]
    outer += ["--rlimit", "core=0", "--rlimit", f"nproc={limits.max_processes}"]
    outer += ["--rlimit", f"fsize={limits.max_file_mb * MB}"]
    if limits.cpu_seconds:
        outer += ["--rlimit", f"cpu={limits.cpu_seconds}"]
    if limits.memory_mb and not memory_in_cgroup:
        outer += ["--rlimit", f"as={limits.memory_mb * MB}"]
    shell = ["/bin/sh", "-c", command]
    flags = [f for f in NAMESPACES if iso.pid or f == "--net"] if iso.unshare else []
    if not isolate_network:  # set-up installs packages: the host's network, still a PID namespace
        flags = [f for f in flags if f != "--net"]
    drop = ["--user", f"{user[0]}:{user[1]}"] if user is not None else []
    # the command dies with the runner (a worker that SIGKILLs it leaves no sandbox behind)
    tied = ["--pdeathsig", str(os.getpid())] if sys.platform.startswith("linux") else []
    if not flags or iso.unshare is None:
        return [*outer, *drop, *tied, "--", *shell]
    if iso.user_ns:
        flags = ["--user", "--map-root-user", *flags]
    inner = [python, "-I", str(SHIM)]
    inner += ["--lo-up"] if "--net" in flags else []
    inner += drop  # after the loopback (which needs root in the namespace), before the command
    inner += ["--pdeathsig", "0"] if drop else []  # the uid change cleared unshare's --kill-child
    inner += ["--init"] if "--pid" in flags else []
    return [*outer, *tied, "--", iso.unshare, *flags, "--", *inner, "--", *shell]


def give_to(root: Path, user: User) -> None:
    """chown `root` and everything under it to `user`, never following a symlink."""
    os.chown(root, *user, follow_symlinks=False)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), *user, follow_symlinks=False)


def parse_user(text: str) -> User:
    """`UID[:GID]` or `NAME` (its uid and primary group) → (uid, gid); ValueError when unknown."""
    import pwd

    name, _, group = text.partition(":")
    if name.isdigit():
        uid = int(name)
        return uid, int(group) if group else uid
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"no such user: {name}") from None
    return entry.pw_uid, int(group) if group else entry.pw_gid
