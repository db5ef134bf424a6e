"""Confinement of `sandbox_runner run`, with real processes: fork bombs, runaway and detached processes,
output floods, the network and the environment. Each test runs the real CLI (or the real supervisor)
on a small git repository made in tmp_path."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sandbox_runner import cgroup as cgroups
from sandbox_runner.capture import OutputCapture
from sandbox_runner.confine import Isolation, Limits, build_argv, build_env, probe_isolation
from sandbox_runner.egress import Egress, scan_run
from sandbox_runner.proctree import MARKER, run_supervised
from tests.sandbox_support import (
    PYTHON,
    ROOT,
    SECRETS,
    make_repo,
    pids_with,
    raw_result,
    result,
    run_runner,
    runner_argv,
    runner_env,
)

ISO = probe_isolation()
needs_network_ns = pytest.mark.skipif(not ISO.network, reason="no network namespace on this host (unshare)")
needs_pid_ns = pytest.mark.skipif(not ISO.pid, reason="no PID namespace on this host (unshare)")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="--user needs the runner to be root")
NOBODY = "65534"
SYSTEM_PYTHON = Path("/usr/bin/python3")  # readable by any uid, unlike a venv under /root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README": "a small project\n"})


def bomb_containment() -> list[str] | None:
    """Runner options under which this host contains a fork bomb; None when nothing would."""
    probe = cgroups.create(cgroups.group_name("probe"), max_processes=8, memory_bytes=None)
    if probe is not None:  # pids.max
        probe.remove()
        return []
    if os.geteuid() != 0:  # RLIMIT_NPROC binds every uid but root
        return []
    return ["--user", NOBODY] if SYSTEM_PYTHON.exists() else None


def test_a_shell_fork_bomb_is_contained(repo: Path, tmp_path: Path) -> None:
    options = bomb_containment()
    if options is None:
        pytest.skip("nothing on this host would contain a fork bomb: no cgroup, root, no --user python")
    out = tmp_path / "out"
    token = f"bomb{random.randrange(10**9)}"
    bomb = f"b() {{ b | b & }}; b; echo {token}"  # the classic :(){ :|:& };: with a searchable name
    run_runner(repo, bomb, out, "--timeout", "4", "--max-processes", "64", *options)
    r = result(out)
    assert "processes" in r.limits_hit
    assert not pids_with(token)  # every copy is gone with the run
    assert len(os.listdir("/proc")) < 5000  # and the host was never flooded


def test_a_python_fork_bomb_is_contained_and_reported(repo: Path, tmp_path: Path) -> None:
    options = bomb_containment()
    if options is None:
        pytest.skip("nothing on this host would contain a fork bomb: no cgroup, root, no --user python")
    python = SYSTEM_PYTHON if options else PYTHON
    out = tmp_path / "out"
    token = f"pybomb{random.randrange(10**9)}"
    script = f"import os\nwhile True:\n    try: os.fork()\n    except OSError: pass  # {token}"
    run_runner(repo, f"{python} -c '{script}'", out, "--timeout", "3", "--max-processes", "32", *options)
    r = result(out)
    assert r.timed_out
    assert r.exit_code is None
    if r.isolation["cgroup"]:
        assert "processes" in r.limits_hit
    assert not pids_with(token)


def test_an_infinite_loop_and_a_detached_grandchild_are_dead_after_the_timeout(
    repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    n = random.randrange(10**6, 10**7)  # the grandchild sleeps n+1 seconds: a number no argv here contains
    command = f"setsid sh -c 'sleep $(({n}+1))' & while :; do :; done"
    proc = subprocess.Popen(runner_argv(repo, command, out, "--timeout", "2"), env=runner_env())
    grandchild = _wait_for(lambda: pids_with(f"\0{n + 1}"), 20)
    loop = _wait_for(lambda: pids_with("while :; do :; done") - {proc.pid}, 20)
    assert proc.wait(timeout=40) == 0
    r = result(out)
    assert r.timed_out
    assert r.exit_code is None
    for pid in grandchild | loop:
        assert not _alive(pid), f"pid {pid} survived the timeout"
    assert not pids_with(f"\0{n + 1}")


def test_without_namespaces_or_cgroup_a_detached_grandchild_is_still_killed(tmp_path: Path) -> None:
    """The fallback for hosts with neither: the process group, then a /proc sweep by marker."""
    n = random.randrange(10**6, 10**7)
    command = f"setsid sh -c 'sleep $(({n}+1))' > /dev/null 2>&1 & sleep $(({n}+2))"
    argv = build_argv(
        command, Isolation(), Limits(), isolate_network=True, cgroup_dirs=[], memory_in_cgroup=False
    )
    env = build_env(os.environ, home=tmp_path, venv=None, tree=None) | {MARKER: f"test-{n}"}
    capture = OutputCapture(tmp_path / "spool", max_bytes=1 << 20)
    try:
        done = run_supervised(argv, env=env, cwd=tmp_path, timeout_s=1.5, capture=capture, cgroup=None)
    finally:
        capture.close()
    assert done.timed_out
    assert not pids_with(f"\0{n + 1}")
    assert not pids_with(f"\0{n + 2}")


def test_a_gigabyte_of_output_is_truncated_and_the_runner_stays_small(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = "yes 'a line of output that repeats' | head -c 1000000000; echo; echo THE-END"
    # A forked child's peak RSS starts at its parent's size, and this test process may be big (a browser
    # test ran here, say): a small Python in between starts the runner and reports its peak alone.
    peak = tmp_path / "peak.json"
    probe = (
        "import json, resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
        "open(sys.argv[1], 'w').write(json.dumps([code, peak]))"
    )
    argv = runner_argv(repo, command, out, "--max-output-mb", "4")
    subprocess.run([sys.executable, "-c", probe, str(peak), *argv], env=runner_env(), check=True)
    code, max_rss_kib = json.loads(peak.read_text())
    assert code == 0
    r = result(out)
    assert "output" in r.limits_hit
    assert r.exit_code == 0
    assert r.log_tail.rstrip().endswith("THE-END")
    assert r.log_head.startswith("a line of output that repeats")
    assert len(r.log_head) + len(r.log_tail) < 1 << 20
    assert max_rss_kib < 200_000, f"runner peak RSS {max_rss_kib} KiB"


@needs_network_ns
def test_the_command_has_no_network_but_a_working_loopback(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import socket\n"
        "srv = socket.create_server(('127.0.0.1', 0)); port = srv.getsockname()[1]\n"
        "socket.create_connection(('127.0.0.1', port), timeout=2).close(); print('LOOPBACK-OK')\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3); print('REACHED')\n"
        "except OSError as e:\n"
        "    print('UNREACHABLE', e)\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443); print('RESOLVED')\n"
        "except OSError as e:\n"
        "    print('NO-DNS', e)\n"
    )
    run_runner(repo, f"{PYTHON} {probe}", out)
    r = result(out)
    assert r.isolation["network"] is True
    assert "LOOPBACK-OK" in r.log_head
    assert "UNREACHABLE" in r.log_head
    assert "REACHED" not in r.log_head.replace("UNREACHABLE", "")
    assert "NO-DNS" in r.log_head
    assert scan_run(r) == Egress(2, "UNREACHABLE [Errno 101] Network is unreachable")  # I5: both seen


def test_the_command_sees_none_of_the_workers_secrets(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    seen = tmp_path / "seen.json"
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, os, sys\n"
        "environs = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try: environs.append(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "    except OSError: pass\n"
        "json.dump({'env': dict(os.environ), 'environs': environs}, open(sys.argv[1], 'w'))\n"
    )
    run_runner(repo, f"{PYTHON} {probe} {seen}", out)
    data = json.loads(seen.read_text())
    for name, value in SECRETS.items():
        assert name not in data["env"]
        assert not any(value in text for text in data["environs"]), f"{name} readable in /proc"
    assert data["env"]["HOME"] != os.environ.get("HOME")
    assert result(out).isolation["env_scrubbed"] is True


@needs_pid_ns
def test_the_command_sees_only_its_own_processes(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_runner(repo, "ls /proc | grep -c '^[0-9]'", out)
    assert int(result(out).log_head.strip()) < 10


def test_cpu_and_file_size_limits_are_reported(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_runner(repo, "while :; do :; done", out, "--cpu-seconds", "1", "--timeout", "20")
    assert raw_result(out)["limits_hit"] == ["cpu"]
    out2 = tmp_path / "out2"
    run_runner(repo, "head -c 3000000 /dev/zero > big.bin", out2, "--max-file-mb", "1")
    assert "file_size" in result(out2).limits_hit


def test_memory_limit_stops_a_hog(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_runner(
        repo, f"{PYTHON} -c 'x = bytearray(400 * 1024 * 1024); print(len(x))'", out, "--memory-mb", "100"
    )
    r = result(out)
    assert r.exit_code not in (0, None)
    assert "memory" in r.limits_hit


def _wait_for(probe: object, timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()  # type: ignore[operator]
        if found:
            return set(found)
        time.sleep(0.05)
    raise AssertionError("the process never appeared")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@needs_root
def test_user_runs_the_command_unprivileged_in_a_tree_it_owns(repo: Path, tmp_path: Path) -> None:
    secret = Path("/tmp") / f"autofix-root-only-{random.randrange(10**9)}"
    secret.write_text("root only\n")
    secret.chmod(0o600)
    try:
        command = f"id -u; id -G; touch in-tree && echo TREE-WRITABLE; cat {secret} || echo SECRET-UNREADABLE"
        out = tmp_path / "out"
        run_runner(repo, command, out, "--user", NOBODY)
        r = result(out)
    finally:
        secret.unlink()
    uid, groups, *rest = r.log_head.split("\n")
    assert uid == NOBODY
    assert groups == NOBODY  # no supplementary groups kept from root
    assert "TREE-WRITABLE" in rest
    assert "SECRET-UNREADABLE" in rest
    assert "root only" not in r.log_head
    assert r.isolation["unprivileged"] is True


@needs_root
def test_without_a_cgroup_the_unprivileged_user_s_process_limit_stops_a_fork_bomb(
    repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    token = f"nprocbomb{random.randrange(10**9)}"
    script = "import os, sys\nwhile True:\n    try: os.fork()\n"
    script += f'    except OSError as e: sys.exit(f"{{e}} {token}")'
    run_runner(
        repo, f"/usr/bin/python3 -c '{script}'", out, "--user", NOBODY, "--no-cgroup", "--max-processes", "40"
    )
    r = result(out)
    assert r.isolation["cgroup"] is False
    assert "processes" in r.limits_hit
    assert not pids_with(token)


@needs_root
def test_the_setup_environment_is_read_only_for_the_runs(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    setup = 'touch "$VIRTUAL_ENV/made-by-setup"'
    command = (
        'ls "$VIRTUAL_ENV"; touch "$VIRTUAL_ENV/poisoned" 2>/dev/null && echo POISONED || echo READ-ONLY'
    )
    run_runner(repo, command, out, "--user", NOBODY, "--setup", setup, "--venv-without-pip")
    r = result(out)
    assert r.setup is not None
    assert r.setup["exit_code"] == 0
    assert "made-by-setup" in r.log_head
    assert "READ-ONLY" in r.log_head


@pytest.mark.parametrize("as_user", [(), pytest.param(("--user", "65534"), marks=needs_root)])
def test_a_killed_runner_takes_its_sandboxes_with_it(
    repo: Path, tmp_path: Path, as_user: tuple[str, ...]
) -> None:
    """The worker SIGKILLs a runner it gave up on: nothing the runner started may live on."""
    n = random.randrange(10**6, 10**7)
    command = f"setsid sh -c 'sleep $(({n}+1))' & sleep $(({n}+2))"
    argv = runner_argv(repo, command, tmp_path / "out", "--timeout", "60", *as_user)
    proc = subprocess.Popen(argv, env=runner_env())
    started = _wait_for(lambda: _both(pids_with(f"\0{n + 1}"), pids_with(f"\0{n + 2}")), 20)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in started):
        time.sleep(0.05)
    assert not [p for p in started if _alive(p)]


def _both(a: set[int], b: set[int]) -> set[int]:
    return a | b if a and b else set()


def test_a_dead_runners_leftover_cgroups_are_removed_by_the_next_run() -> None:
    first = cgroups.create(cgroups.group_name("first"), max_processes=8, memory_bytes=None)
    if first is None:
        pytest.skip("no writable cgroup hierarchy on this host")
    try:
        dead = max(int(Path("/proc/sys/kernel/pid_max").read_text()), 4194304) + 1  # no process has it
        stale = [d.parent / f"{cgroups.PREFIX}{dead}-left" for d in first.dirs.values()]
        for d in stale:
            d.mkdir()
        second = cgroups.create(cgroups.group_name("second"), max_processes=8, memory_bytes=None)
        assert second is not None
        second.remove()
        assert not [d for d in stale if d.exists()]
        assert all(d.exists() for d in first.dirs.values())  # a live runner's group stays
    finally:
        first.remove()


@needs_root
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no /usr/bin/python3 for an unprivileged runner")
def test_an_unprivileged_runner_isolates_through_a_user_namespace() -> None:
    """How it runs on a CI runner (not root): unshare inside a user namespace, where the host allows it."""
    work = Path(tempfile.mkdtemp(prefix="autofix-nobody-"))
    try:
        repo = make_repo(work / "repo", {"README": "x\n"})
        for path in [work, *work.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
        command = "id -u; ls /proc | grep -c '^[0-9]'"
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON)]
        argv += [
            "-m",
            "sandbox_runner",
            "run",
            "--repo",
            str(repo),
            "--command",
            command,
            "--out",
            str(work / "out"),
        ]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(ROOT), **SECRETS}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=50, cwd=work)
        assert proc.returncode == 0, proc.stderr
        r = result(work / "out")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert r.isolation["unprivileged"] is True
    if not r.isolation["pid"]:
        pytest.skip("unprivileged user namespaces are not allowed on this host")
    assert r.isolation["network"] is True
    uid, processes = r.log_head.split()
    assert uid == "0"  # root inside the user namespace, nobody outside
    assert int(processes) < 10


def test_a_command_that_closes_its_output_and_keeps_running_is_killed_at_the_deadline(
    repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    n = random.randrange(10**6, 10**7)
    run_runner(repo, f"echo before; exec > /dev/null 2>&1; sleep $(({n}+1))", out, "--timeout", "2")
    r = result(out)
    assert r.timed_out
    assert r.log_head == "before\n"
    assert not pids_with(f"\0{n + 1}")
