"""Chaos run: thousands of webhook deliveries while Redis and workers are killed and GitHub misbehaves.

    .venv/bin/python bench/chaos.py                      # 10,000 deliveries (the published run)
    .venv/bin/python bench/chaos.py --deliveries 2000    # a quicker look

Loopback only, bounded in time (--cap seconds) and count. What runs, all real except GitHub:

- an embedded Redis with append-only persistence, SIGKILLed and restarted on the same files;
- `autofix web` and N `autofix worker` processes; workers are SIGKILLed at random and restarted;
- the local GitHub (tests/fakes/github) with faults armed: 5xx answers, secondary rate limits,
  slow answers and dropped connections;
- the deliveries: `/autofix status` commands from a maintainer, spread over many installations and
  threads (under the circuit breakers' limits), signed like GitHub's. 10 % are resent with the same
  delivery id, and the order is shuffled. A delivery that was not accepted (Redis down: 503) is sent
  again later, as the reconciliation job would redeliver it.

It reports:

- deliveries accepted;
- commands answered;
- commands lost: no answer (target 0);
- duplicates: a command answered twice (target 0);
- secrets found in any log, Redis value or comment (target 0);
- the time to recover after each fault.

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis
import uvicorn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.embedded_redis import EmbeddedRedis  # noqa: E402
from app.signatures import sign  # noqa: E402
from jobs.names import COMMAND_QUEUE, FIX_QUEUE  # noqa: E402
from tests.fakes.github import GitHubState, build_app, generate_private_key  # noqa: E402
from tests.fakes.github import faults as fault  # noqa: E402
from tests.fakes.github.sim import Sim  # noqa: E402

APP_ID = 515151
SECRET = "chaos-" + uuid.uuid4().hex  # the webhook secret: it must never appear anywhere
MAINTAINER = "chaos-maint"
BOT = "autofix-chaos[bot]"
AUTOFIX = REPO / ".venv" / "bin" / "autofix"
TOKEN_CACHE = b"autofix:gh:token:"


@dataclass
class Delivery:
    guid: str
    event: str
    body: bytes
    command_id: int  # the comment it carries (the unit a duplicate or a loss is counted in)
    status: int = 0
    tries: int = 0


@dataclass
class Report:
    deliveries_sent: int = 0
    deliveries_accepted: int = 0
    duplicates_sent: int = 0
    redelivered_after_failure: int = 0
    commands: int = 0
    commands_answered: int = 0
    commands_lost: int = 0
    duplicate_answers: int = 0
    secrets_found: list[str] = field(default_factory=list)
    redis_kills: list[float] = field(default_factory=list)  # seconds to recover after each
    worker_kills: list[float] = field(default_factory=list)
    github_faults_fired: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Processes:
    """`autofix web` and workers as children, logs in files, every one stopped on exit."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.count = 0

    def start(self, name: str, *args: str) -> None:
        self.count += 1
        log = (self.root / f"{name}-{self.count}.log").open("wb")
        self.children[name] = subprocess.Popen(
            [str(AUTOFIX), *args],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )

    def kill(self, name: str) -> None:
        child = self.children.pop(name)
        child.send_signal(signal.SIGKILL)
        child.wait()

    def stop_all(self) -> None:
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("*.log")))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_github(root: Path, orgs: int, threads: int, per_thread: int) -> tuple[GitHubState, Path, list[Any]]:
    """The local GitHub: an App installed on `orgs` organisations, one repository each with `threads`
    issues, and `per_thread` `/autofix status` comments on each issue (their webhooks collected)."""
    root.mkdir(parents=True, exist_ok=True)
    key = root / "app-key.pem"
    key.write_text(generate_private_key())
    key.chmod(0o600)
    state = GitHubState(git_root=root / "repos")
    state.add_app(APP_ID, key.read_text(), slug="autofix-chaos")
    sim = Sim(state)
    collected: list[Any] = []
    state.deliver = lambda event, payload: collected.append((event, payload))
    for i in range(orgs):
        org = f"chaos-org-{i:03d}"
        state.install(APP_ID, org)
        repo = sim.create_repo(org, "svc", files={"README.md": "svc\n"})
        sim.set_permission(repo, MAINTAINER, "maintain")
        for t in range(threads):
            issue = sim.open_issue(repo, f"thread {t}", "something flaky", user=MAINTAINER)
            for _ in range(per_thread):
                sim.comment(repo, issue.number, "/autofix status", user=MAINTAINER)
    state.deliver = None
    commands = [(e, p) for e, p in collected if e == "issue_comment"]
    return state, key, commands


def plan_deliveries(commands: list[Any], total: int, dup_rate: float, rng: random.Random) -> list[Delivery]:
    unique = [
        Delivery(str(uuid.uuid4()), event, json.dumps(payload).encode(), int(payload["comment"]["id"]))
        for event, payload in commands
    ]
    dups = min(total - len(unique), int(total * dup_rate)) if total > len(unique) else 0
    plan = list(unique)
    for _ in range(max(0, dups)):
        original = rng.choice(unique)
        plan.append(Delivery(original.guid, original.event, original.body, original.command_id))
    # out of order: shuffled in windows, so a redelivery can come before or long after its original
    window = 200
    for start in range(0, len(plan), window):
        chunk = plan[start : start + window]
        rng.shuffle(chunk)
        plan[start : start + window] = chunk
    rng.shuffle(plan)
    return plan


async def send_all(url: str, plan: list[Delivery], concurrency: int) -> None:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in plan:
        queue.put_nowait(d)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            d = queue.get_nowait()
            d.tries += 1
            headers = {
                "content-type": "application/json",
                "x-github-event": d.event,
                "x-github-delivery": d.guid,
                "x-hub-signature-256": sign(SECRET.encode(), d.body),
                "x-github-hook-installation-target-id": str(APP_ID),
                "x-github-hook-installation-target-type": "integration",
            }
            try:
                d.status = (await client.post(url, content=d.body, headers=headers, timeout=15)).status_code
            except httpx.HTTPError:
                d.status = 0

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))


def wait_ready(url: str, timeout: float) -> float:
    """Seconds until GET url answers 200 (inf if it never does)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - start
        time.sleep(0.05)
    return float("inf")


def answers(state: GitHubState) -> tuple[int, int, int]:
    """(commands answered, lost, duplicate answers), counted per thread: every `/autofix status` gets
    exactly one bot reply in its thread, so a thread with fewer bot comments than commands lost some,
    and one with more answered some twice."""
    commands: dict[tuple[str, int], int] = {}
    replies: dict[tuple[str, int], int] = {}
    for c in state.comments.values():
        thread = (c.repo, c.issue_number)
        if c.user.login == MAINTAINER:
            commands[thread] = commands.get(thread, 0) + 1
        elif c.user.type == "Bot":
            replies[thread] = replies.get(thread, 0) + 1
    answered = sum(min(n, replies.get(t, 0)) for t, n in commands.items())
    lost = sum(max(0, n - replies.get(t, 0)) for t, n in commands.items())
    duplicates = sum(max(0, replies.get(t, 0) - n) for t, n in commands.items())
    return answered, lost, duplicates


def busy(url: str) -> bool:
    """Whether any job waits in a queue or runs."""
    with sync_redis.Redis.from_url(url) as r:
        waiting = r.zcard(FIX_QUEUE) + r.zcard(COMMAND_QUEUE)
        running = next(r.scan_iter(match="arq:in-progress:*", count=1000), None)
    return bool(waiting or running)


def scan_secrets(texts: list[str], secrets: dict[str, str]) -> list[str]:
    return sorted({name for name, value in secrets.items() if value and any(value in t for t in texts)})


def redis_texts(url: str) -> list[str]:
    """Every value in Redis (job records, audit, results) except the installation-token cache."""
    out = []
    with sync_redis.Redis.from_url(url) as r:
        for key in r.scan_iter(count=1000):
            if key.startswith(TOKEN_CACHE):
                continue  # where installation tokens are meant to be: shared by the workers
            kind = r.type(key)
            if kind == b"string":
                out.append(repr(r.get(key)))
            elif kind == b"stream":
                out.append(repr(r.xrange(key)))
            elif kind == b"hash":
                out.append(repr(r.hgetall(key)))
    return out


def run(args: argparse.Namespace) -> Report:
    rng = random.Random(args.seed)
    report = Report()
    root = Path(tempfile.mkdtemp(prefix="autofix-chaos-"))
    unique = int(args.deliveries / (1 + args.duplicates))
    per_thread = 3
    threads = max(1, min(12, unique // (args.orgs * per_thread)))
    orgs = max(1, unique // (threads * per_thread))
    state, key, commands = build_github(root / "github", orgs, threads, per_thread)
    report.commands = len(commands)
    plan = plan_deliveries(commands, args.deliveries, args.duplicates, rng)
    report.deliveries_sent = len(plan)
    report.duplicates_sent = len(plan) - len(commands)

    gh_port = free_port()
    state.base_url = f"http://127.0.0.1:{gh_port}"
    for pattern, armed, times in (
        (r"/issues/\d+/comments$", fault.status(502), args.faults),
        (r"/issues/comments/\d+/reactions$", fault.secondary_limit(retry_after=1), args.faults),
        (r"/collaborators/[^/]+/permission$", fault.latency(0.5), args.faults),
        (r"/issues/\d+$", fault.drop(), args.faults // 2),
    ):
        state.faults.add("*", pattern, armed, times=times)
    server = uvicorn.Server(
        uvicorn.Config(build_app(state), host="127.0.0.1", port=gh_port, log_level="error")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)

    redis_server = EmbeddedRedis(root / "redis")
    redis_url = redis_server.start()
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "REDIS_URL": redis_url,
        "GITHUB_API_URL": state.base_url,
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY_PATH": str(key),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "AUTOFIX_BOT_LOGIN": BOT,
        "ANTHROPIC_API_KEY": "sk-ant-chaos-" + uuid.uuid4().hex,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",  # commands never call the model
        "AUTOFIX_PORT": str(port),
        "AUTOFIX_LOG_FORMAT": "json",
    }
    procs = Processes(root, env)
    procs.start("web", "web")
    for w in range(args.workers):
        procs.start(f"worker{w}", "worker")
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        wait_ready(f"{base}/readyz", 30)
        chaos_done = threading.Event()

        def chaos() -> None:
            events = ["redis"] * args.redis_kills + ["worker"] * args.worker_kills
            rng.shuffle(events)
            for what in events:
                if chaos_done.wait(rng.uniform(2, 6)):
                    return
                if what == "redis":
                    pid = int((root / "redis" / "redis.pid").read_text())
                    os.kill(pid, signal.SIGKILL)
                    time.sleep(1.0)
                    t0 = time.monotonic()
                    redis_server.start()
                    report.redis_kills.append(
                        round(time.monotonic() - t0 + wait_ready(f"{base}/readyz", 60), 2)
                    )
                else:
                    name = rng.choice([n for n in procs.children if n.startswith("worker")])
                    procs.kill(name)
                    t0 = time.monotonic()
                    procs.start(name, "worker")
                    report.worker_kills.append(round(time.monotonic() - t0, 2))

        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        asyncio.run(send_all(f"{base}/webhooks/github", plan, args.concurrency))
        for _ in range(20):  # the reconciler's part: deliveries that were not accepted are delivered again
            failed = [d for d in plan if not 200 <= d.status < 300]
            if not failed:
                break
            report.redelivered_after_failure += len(failed)
            time.sleep(2)
            wait_ready(f"{base}/readyz", 60)
            asyncio.run(send_all(f"{base}/webhooks/github", failed, args.concurrency))
        chaos_done.set()
        chaos_thread.join()
        report.deliveries_accepted = sum(1 for d in plan if 200 <= d.status < 300)

        deadline = started + args.cap
        quiet_since = None
        while time.monotonic() < deadline and answers(state)[1] > 0:
            # unanswered commands with empty queues and nothing running, for 10 s, are lost for good
            if busy(redis_url):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 10:
                break
            time.sleep(2)
        time.sleep(3)  # late duplicates would show up now
        report.commands_answered, report.commands_lost, report.duplicate_answers = answers(state)
        fired: dict[str, int] = {}
        for _, _, kind in state.faults.fired:
            fired[kind] = fired.get(kind, 0) + 1
        report.github_faults_fired = fired
        secrets = {
            "webhook secret": SECRET,
            "private key": key.read_text().splitlines()[1],
            "anthropic key": env["ANTHROPIC_API_KEY"],
            **{f"installation token {i}": t for i, t in enumerate(state.tokens)},
        }
        texts = [procs.logs(), *redis_texts(redis_url), *(c.body for c in state.comments.values())]
        report.secrets_found = scan_secrets(texts, secrets)
    finally:
        report.seconds = round(time.monotonic() - started, 1)
        procs.stop_all()
        redis_server.stop()
        server.should_exit = True
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=10_000)
    ap.add_argument(
        "--duplicates", type=float, default=0.1, help="share of deliveries resent with the same id"
    )
    ap.add_argument("--orgs", type=int, default=250, help="installations the commands are spread over")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--redis-kills", type=int, default=3)
    ap.add_argument("--worker-kills", type=int, default=4)
    ap.add_argument("--faults", type=int, default=40, help="GitHub faults of each kind")
    ap.add_argument("--cap", type=float, default=1800, help="give up waiting for answers after this (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "bench-out" / "chaos.json")
    args = ap.parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.__dict__, indent=2))
    for name, value in report.__dict__.items():
        print(f"{name:28} {value}")
    ok = report.commands_lost == 0 and report.duplicate_answers == 0 and not report.secrets_found
    print("\nall targets met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
