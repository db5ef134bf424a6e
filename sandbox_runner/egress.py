"""Did a sandbox run try to reach the network? Pure functions, standard library only.

Where the host allows it, a test command runs in a network namespace of its own with only a loopback
(sandbox_runner/confine.py): a connection out fails at once, and so does every name lookup. The
run goes on (a test that needs the network fails like any other), but the attempt is worth
recording. The namespace cannot count its own refusals without a process inside it, so the attempts
are read from the run's output, by the error texts that the tools print:

- CPython's socket and urllib: `[Errno 101] Network is unreachable`,
  `[Errno -3] Temporary failure in name resolution`, `[Errno -2] Name or service not known`;
- urllib3, requests, httpx, pip: the same texts inside `NewConnectionError(... Failed to establish
  a new connection: ...)` or `NameResolutionError(... Failed to resolve 'pypi.org' ...)`;
- curl and git: `Could not resolve host: evil.example`, `curl: (7) Failed to connect to 93.184.216.34
  port 80 after 0 ms: Couldn't connect to server`; wget: `unable to resolve host address`;
- Node: `getaddrinfo EAI_AGAIN`, `connect ENETUNREACH`; Java: `java.net.UnknownHostException`;
  dig and nslookup: `no servers could be reached`.

A refused connection to the loopback (a test's own server not up yet) is not an attempt to leave.
Only runs that were isolated are scanned: elsewhere these texts are ordinary network failures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox_runner.injection import excerpt
from sandbox_runner.result import RunResult

MAX_HOSTS = 5
_LOOPBACK = r"(?:localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0)\b"
BLOCKED = re.compile(
    r"network is unreachable|\bENETUNREACH\b|no route to host|\bEHOSTUNREACH\b"
    r"|temporary failure in name resolution|\bEAI_AGAIN\b|name or service not known"
    r"|no address associated with hostname|nodename nor servname provided|getaddrinfo ENOTFOUND"
    r"|could not resolve (?:host|proxy)|unable to resolve host address|java\.net\.UnknownHostException"
    r"|no servers could be reached"
    rf"|curl: \(7\) Failed to connect to (?!{_LOOPBACK})",
    re.IGNORECASE,
)
# where the message names the host it wanted (curl and git, wget, urllib3 and pip, Node)
HOST = re.compile(
    r"could not resolve host: ([\w.-]+)|unable to resolve host address ['‘]([\w.-]+)['’]"
    r"|Failed to resolve '([\w.-]+)'|host='([\w.-]+)'|getaddrinfo \w+ ([\w.-]+)"
    r"|Failed to connect to ([\w.:-]+) port",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Egress:
    """The blocked attempts of one run: how many lines of output report one, the first of them (at
    most 80 characters) and the hosts named (at most MAX_HOSTS)."""

    count: int
    example: str
    hosts: tuple[str, ...] = ()


def scan_output(text: str) -> Egress | None:
    """The blocked network attempts that `text` (a command's output) reports, or None."""
    count, first, hosts = 0, "", dict[str, None]()
    for line in text.splitlines():
        if not BLOCKED.search(line):
            continue
        count += 1
        first = first or excerpt(line)
        for match in HOST.finditer(line):
            host = next(g for g in match.groups() if g).lower().rstrip(".")
            if len(hosts) < MAX_HOSTS and not re.fullmatch(_LOOPBACK, host):
                hosts[host] = None
    return Egress(count, first, tuple(hosts)) if count else None


def scan_run(run: RunResult) -> Egress | None:
    """`scan_output` of a run's kept output (head and tail), when the run had no network."""
    if not run.isolation.get("network"):
        return None
    return scan_output(f"{run.log_head}\n{run.log_tail}")
