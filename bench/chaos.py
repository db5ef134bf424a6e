"""Chaos run: thousands of webhook deliveries while Redis and workers are killed and GitHub misbehaves.

    .venv/bin/python bench/chaos.py                      # 10,000 deliveries (the published run, ~10 min)
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
- jobs run (arq's results, by function) and commands answered;
- commands lost: no answer (target 0);
- duplicates: a command answered twice (target 0);
- secrets found in any log, Redis value or comment (target 0);
- the time to recover after each fault: after a Redis kill, from the restart until a command is
  answered again; after a worker kill, until every job it was running has finished elsewhere (the
  reaper frees them); after a GitHub fault, until the same request succeeds.

Faults come while there is work: the first Redis kill during the sending, the rest spread over the
run (a gap of --gap seconds on average), so none is wasted on an idle system.

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
import statistics
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
from arq.constants import result_key_prefix
from arq.jobs import deserialize_result

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.embedded_redis import EmbeddedRedis  # noqa: E402
from app.github.client import TOKEN_KEY  # noqa: E402
from app.queue import deserialize  # noqa: E402
from app.signatures import sign  # noqa: E402
from jobs.names import COMMAND_QUEUE, FIX_QUEUE  # noqa: E402
from jobs.reaper import RUNNING  # noqa: E402
from tests.fakes import anthropic as fake_anthropic  # noqa: E402
from tests.fakes.github import GitHubState, build_app, generate_private_key  # noqa: E402
from tests.fakes.github import faults as fault  # noqa: E402
from tests.fakes.github.faults import API_PREFIX  # noqa: E402
from tests.fakes.github.sim import Sim  # noqa: E402
from tests.fakes.github.state import Repo  # noqa: E402
from tests.patch_support import BUGGY, FIXED, STATS, model_turn  # noqa: E402
from tests.pipeline_support import FILES, real_pytest_log  # noqa: E402
from tests.support import LiveServer  # noqa: E402

APP_ID = 515151
SECRET = "chaos-" + uuid.uuid4().hex  # the webhook secret: it must never appear anywhere
MAINTAINER = "chaos-maint"
BOT = "autofix-chaos[bot]"
AUTOFIX = REPO / ".venv" / "bin" / "autofix"
TOKEN_CACHE = TOKEN_KEY.split("{")[0].encode()  # where installation tokens are kept, by design


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
    failed_checks: int = 0  # broken PRs whose failed check should get exactly one fix PR
    fix_prs_opened: int = 0
    failed_checks_lost: int = 0
    duplicate_prs: int = 0
    duplicate_status_comments: int = 0
    secrets_found: list[str] = field(default_factory=list)
    jobs_run: dict[str, int] = field(default_factory=dict)  # arq results by function
    redis_kills: list[float] = field(default_factory=list)  # seconds to recover after each
    worker_kills: list[dict[str, Any]] = field(default_factory=list)  # jobs orphaned, seconds
    faults_asked: dict[str, int] = field(default_factory=dict)
    github_faults_fired: dict[str, int] = field(default_factory=dict)
    github_fault_recovery: dict[str, dict[str, float]] = field(default_factory=dict)  # kind: median, max
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


@dataclass
class World:
    """The local GitHub as the run starts: its state, the App's key, the deliveries to send, and the
    repositories whose failed check should end in exactly one fix PR."""

    state: GitHubState
    key: Path
    commands: list[Any]  # (event, payload) of every `/autofix status` comment
    fix_events: list[Any]  # (event, payload) the failed checks of the broken PRs sent
    broken: list[tuple[Repo, int]]  # repository, number of its broken PR


def build_github(root: Path, orgs: int, threads: int, per_thread: int, fixes: int) -> World:
    """The local GitHub: an App installed on `orgs` organisations, one repository each with `threads`
    issues and `per_thread` `/autofix status` comments on each issue; and in the first `fixes`
    organisations a second repository whose PR breaks `mean()` and fails its CI check."""
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
    commands = [(e, p) for e, p in collected if e == "issue_comment"]
    collected.clear()
    broken = []
    log = real_pytest_log(root / "ci", FILES) if fixes else ""
    good = FILES | {"calc/stats.py": STATS.replace(BUGGY, FIXED)}
    for i in range(min(fixes, orgs)):
        repo = sim.create_repo(f"chaos-org-{i:03d}", "lib", files=good)
        sha = sim.commit(repo, "feature", {"calc/stats.py": STATS}, "Rework mean()", "mona")
        pr = sim.open_pr(repo, "feature", title="Rework mean()")
        sim.fail_check(repo, sha, "tests", log=log)
        broken.append((repo, pr.number))
    state.deliver = None
    return World(state, key, commands, list(collected), broken)


def fix_outcomes(state: GitHubState, broken: list[tuple[Repo, int]]) -> tuple[int, int, int, int]:
    """(fix PRs opened, broken PRs left without one, extra fix PRs, extra status comments)."""
    opened = lost = extra_prs = extra_status = 0
    for repo, number in broken:
        prs = [i for i in list(repo.issues.values()) if i.pull is not None and i.number != number]
        status = [
            c for c in list(state.comments.values())
            if c.repo == repo.full_name and c.issue_number == number and c.body.startswith("**Autofix")
        ]  # fmt: skip
        opened += min(1, len(prs))
        lost += not prs
        extra_prs += max(0, len(prs) - 1)
        extra_status += max(0, len(status) - 1)
    return opened, lost, extra_prs, extra_status


def plan_deliveries(events: list[Any], dup_rate: float, rng: random.Random) -> list[Delivery]:
    """Every event once, and `dup_rate` of them again with the same delivery id, shuffled."""
    unique = [
        Delivery(
            str(uuid.uuid4()),
            event,
            json.dumps(payload).encode(),
            int(payload.get("comment", {}).get("id", 0)),
        )
        for event, payload in events
    ]
    plan = list(unique)
    for _ in range(round(len(unique) * dup_rate)):
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


async def send_all(url: str, plan: list[Delivery], concurrency: int, rate: float = 0) -> None:
    """POST every delivery, `concurrency` at a time, at most `rate` a second (0: as fast as possible)."""
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in plan:
        queue.put_nowait(d)
    start, sent = time.monotonic(), 0

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while not queue.empty():
            d = queue.get_nowait()
            d.tries += 1
            sent += 1
            if rate:
                await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
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
    for c in list(state.comments.values()):  # the server thread adds comments meanwhile
        thread = (c.repo, c.issue_number)
        if c.user.login == MAINTAINER:
            commands[thread] = commands.get(thread, 0) + 1
        elif c.user.type == "Bot":
            replies[thread] = replies.get(thread, 0) + 1
    answered = sum(min(n, replies.get(t, 0)) for t, n in commands.items())
    lost = sum(max(0, n - replies.get(t, 0)) for t, n in commands.items())
    duplicates = sum(max(0, replies.get(t, 0) - n) for t, n in commands.items())
    return answered, lost, duplicates


def normal(status: int) -> bool:
    """An answer that is not a fault: not a dropped connection, a 5xx or a rate limit."""
    return 200 <= status < 500 and status not in (403, 429)


class RequestLog:
    """Every answer the local GitHub gives (monotonic time, method, path, status; 0 = dropped), and
    every fault it fires, for the time each fault took to recover."""

    def __init__(self, app: Any, state: GitHubState) -> None:
        self.app = app
        self.answers: list[tuple[float, str, str, int]] = []
        self.faults: list[tuple[float, str, str, str]] = []
        self.lock = threading.Lock()
        take = state.faults.take

        def timed_take(method: str, path: str) -> Any:
            armed = take(method, path)
            if armed is not None:
                with self.lock:
                    self.faults.append((time.monotonic(), method, path.removeprefix(API_PREFIX), armed.kind))
            return armed

        state.faults.take = timed_take  # type: ignore[method-assign]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def recording(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            path = scope["path"].removeprefix(API_PREFIX)
            with self.lock:
                self.answers.append((time.monotonic(), scope["method"], path, status))

    def recovery(self) -> dict[str, dict[str, float]]:
        """Per fault kind: median and max seconds from the fault until the same request was answered
        normally (2xx-4xx but GitHub's rate-limit 403/429: a config file's 404 is a normal answer; a
        slow answer is its own recovery); a fault never followed by one counts as the rest of the run."""
        with self.lock:
            answers, faults = sorted(self.answers), list(self.faults)
        end = answers[-1][0] if answers else time.monotonic()
        waits: dict[str, list[float]] = {}
        for at, method, path, kind in faults:
            ok = next(
                (t for t, m, p, st in answers if t > at and m == method and p == path and normal(st)),
                end,
            )
            waits.setdefault(kind, []).append(ok - at)
        return {
            kind: {"median_s": round(statistics.median(w), 2), "max_s": round(max(w), 2)}
            for kind, w in sorted(waits.items())
        }


def bot_replies(state: GitHubState) -> int:
    return sum(1 for c in list(state.comments.values()) if c.user.type == "Bot")


def jobs_running_on(url: str, pid: int) -> list[str]:
    """The jobs the worker process `pid` was running (the reaper's `autofix:running` hash)."""
    with sync_redis.Redis.from_url(url) as r:
        running = r.hgetall(RUNNING)
    return sorted(job.decode() for job, worker in running.items() if f":{pid}:" in worker.decode())


def finished(url: str, job_ids: list[str]) -> bool:
    with sync_redis.Redis.from_url(url) as r:
        return all(r.exists(result_key_prefix + job) for job in job_ids)


def jobs_run(url: str) -> dict[str, int]:
    """arq's kept results, counted by function (a job that ran twice has one result)."""
    counts: dict[str, int] = {}
    with sync_redis.Redis.from_url(url) as r:
        for key in r.scan_iter(match=result_key_prefix + "*", count=1000):
            raw = r.get(key)
            if raw is None:
                continue
            name = deserialize_result(raw, deserializer=deserialize).function
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


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
    world = build_github(root / "github", orgs, threads, per_thread, args.fixes)
    state, key = world.state, world.key
    report.commands, report.failed_checks = len(world.commands), len(world.broken)
    events = world.commands + world.fix_events
    plan = plan_deliveries(events, args.duplicates, rng)
    report.deliveries_sent = len(plan)
    report.duplicates_sent = len(plan) - len(events)
    model = fake_anthropic.AnthropicState(api_keys={"sk-ant-chaos-" + uuid.uuid4().hex})
    model.script(*[model_turn] * 100 * max(1, args.fixes))

    gh_port = free_port()
    state.base_url = f"http://127.0.0.1:{gh_port}"
    for pattern, armed, times in (
        (r"/issues/\d+/comments$", fault.status(502), args.faults),
        (r"/issues/comments/\d+/reactions$", fault.secondary_limit(retry_after=1), args.faults),
        (r"/contents/", fault.latency(0.5), args.faults),
        (r"/collaborators/[^/]+/permission$", fault.drop(), args.faults // 2),
    ):
        state.faults.add("*", pattern, armed, times=times)
        report.faults_asked[armed.kind] = report.faults_asked.get(armed.kind, 0) + times
    report.faults_asked |= {"redis kill": args.redis_kills, "worker kill": args.worker_kills}
    requests = RequestLog(build_app(state), state)
    server = uvicorn.Server(uvicorn.Config(requests, host="127.0.0.1", port=gh_port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)

    model_server = LiveServer(fake_anthropic.build_app(model))
    model_server.__enter__()
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
        "ANTHROPIC_API_KEY": next(iter(model.api_keys)),
        "ANTHROPIC_BASE_URL": model_server.url,
        "AUTOFIX_PORT": str(port),
        "AUTOFIX_LOG_FORMAT": "json",
    }
    procs = Processes(root, env)
    procs.start("web", "web")
    for w in range(args.workers):
        procs.start(f"worker{w}", "worker")
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    work_done = threading.Event()

    def kill_redis() -> None:
        os.kill(int((root / "redis" / "redis.pid").read_text()), signal.SIGKILL)
        time.sleep(1.0)  # down for a second: deliveries meanwhile get 503
        before = bot_replies(state)
        t0 = time.monotonic()
        redis_server.start()
        while bot_replies(state) == before and not work_done.wait(0.05):
            pass
        report.redis_kills.append(round(time.monotonic() - t0, 2))

    def kill_worker() -> None:
        name = rng.choice([n for n in procs.children if n.startswith("worker")])
        orphans = jobs_running_on(redis_url, procs.children[name].pid)
        procs.kill(name)
        t0 = time.monotonic()
        procs.start(name, "worker")
        while orphans and not finished(redis_url, orphans) and not work_done.wait(0.2):
            pass
        seconds = round(time.monotonic() - t0, 2) if finished(redis_url, orphans) else None
        report.worker_kills.append({"jobs_orphaned": len(orphans), "recovered_s": seconds})

    def chaos() -> None:
        """The first Redis kill while deliveries are sent, then the rest, while there is work."""
        later = ["redis"] * max(0, args.redis_kills - 1) + ["worker"] * args.worker_kills
        rng.shuffle(later)
        events = (["redis"] if args.redis_kills else []) + later
        for i, what in enumerate(events):
            if work_done.wait(rng.uniform(2, 6) if i == 0 else rng.uniform(0.5, 1.5) * args.gap):
                return
            kill_redis() if what == "redis" else kill_worker()

    try:
        wait_ready(f"{base}/readyz", 30)
        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        asyncio.run(send_all(f"{base}/webhooks/github", plan, args.concurrency, args.rate))
        for _ in range(20):  # the reconciler's part: deliveries that were not accepted are delivered again
            failed = [d for d in plan if not 200 <= d.status < 300]
            if not failed:
                break
            report.redelivered_after_failure += len(failed)
            time.sleep(2)
            wait_ready(f"{base}/readyz", 60)
            asyncio.run(send_all(f"{base}/webhooks/github", failed, args.concurrency))
        report.deliveries_accepted = sum(1 for d in plan if 200 <= d.status < 300)

        deadline = started + args.cap
        quiet_since = None

        def unfinished() -> int:
            return answers(state)[1] + fix_outcomes(state, world.broken)[1]

        while time.monotonic() < deadline and (unfinished() > 0 or chaos_thread.is_alive()):
            # unanswered commands with empty queues and nothing running, for 90 s (longer than the
            # reaper takes to free a dead worker's jobs), are lost for good
            if chaos_thread.is_alive() or busy(redis_url):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 90:
                break
            if unfinished() == 0:
                work_done.set()  # faults not yet fired would hit an idle system: skip them
            time.sleep(2)
        work_done.set()
        chaos_thread.join()
        time.sleep(3)  # late duplicates would show up now
        report.commands_answered, report.commands_lost, report.duplicate_answers = answers(state)
        report.jobs_run = jobs_run(redis_url)
        (
            report.fix_prs_opened,
            report.failed_checks_lost,
            report.duplicate_prs,
            report.duplicate_status_comments,
        ) = fix_outcomes(state, world.broken)
        fired: dict[str, int] = {}
        for _, _, kind in state.faults.fired:
            fired[kind] = fired.get(kind, 0) + 1
        report.github_faults_fired = fired
        report.github_fault_recovery = requests.recovery()
        secrets = {
            "webhook secret": SECRET,
            "private key": key.read_text().splitlines()[1],
            "anthropic key": env["ANTHROPIC_API_KEY"],
            **{f"installation token {i}": t for i, t in enumerate(state.tokens)},
        }
        texts = [
            procs.logs(),
            *redis_texts(redis_url),
            *(c.body for c in list(state.comments.values())),
            *(i.body or "" for repo, _ in world.broken for i in list(repo.issues.values())),  # PR bodies
            json.dumps(model.bodies),  # every prompt the model saw
        ]
        report.secrets_found = scan_secrets(texts, secrets)
    finally:
        report.seconds = round(time.monotonic() - started, 1)
        work_done.set()
        procs.stop_all()
        redis_server.stop()
        server.should_exit = True
        model_server.__exit__(None, None, None)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=10_000)
    ap.add_argument(
        "--duplicates", type=float, default=0.1, help="share of deliveries resent with the same id"
    )
    ap.add_argument("--orgs", type=int, default=250, help="installations the commands are spread over")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fixes", type=int, default=24, help="broken PRs whose failed check the bot fixes")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument(
        "--rate", type=float, default=20, help="deliveries a second (0: all at once, a backlog to drain)"
    )
    ap.add_argument("--redis-kills", type=int, default=3)
    ap.add_argument("--worker-kills", type=int, default=4)
    ap.add_argument("--faults", type=int, default=40, help="GitHub faults of each kind")
    ap.add_argument("--gap", type=float, default=45, help="mean seconds between Redis and worker kills")
    ap.add_argument("--cap", type=float, default=3000, help="give up waiting for answers after this (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "bench-out" / "chaos.json")
    args = ap.parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.__dict__, indent=2))
    for name, value in report.__dict__.items():
        print(f"{name:28} {value}")
    ok = (
        report.commands_lost == 0
        and report.duplicate_answers == 0
        and report.failed_checks_lost == 0
        and report.duplicate_prs == 0
        and report.duplicate_status_comments == 0
        and not report.secrets_found
        and all(k["recovered_s"] is not None for k in report.worker_kills)
    )
    print("\nall targets met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
