"""Shared test helpers: signed deliveries, fixtures on disk, a live HTTP server in a thread."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from starlette.types import ASGIApp

from app.settings import Settings
from app.signatures import sign
from tests.fakes.github import GitHubState
from tests.fakes.github import build_app as build_github
from tests.fakes.github.sim import Sim

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOKS = FIXTURES / "webhooks"
SECRET = "test-webhook-secret-0123456789"
PREVIOUS_SECRET = "test-previous-secret-9876543210"
APP_ID = 424242
SETTINGS_ENV = tuple(name.upper() for name in Settings.model_fields)


def fixture_bytes(name: str) -> bytes:
    return (WEBHOOKS / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(name))
    return data


# What the octokit examples for Codertocat/Hello-World carry when GitHub sends them to an App
# (push.none.3.json, pull_request.closed.1.json): installation 1 and its legacy node id.
APP_INSTALLATION = {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
APP_DELIVERIES = FIXTURES / "app_deliveries"


def app_delivery(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` as a GitHub App receives it: with an `installation`. Some recorded fixtures are
    repository-hook deliveries, which name none, and the endpoint refuses work without one (A6)."""
    return payload if "installation" in payload else payload | {"installation": dict(APP_INSTALLATION)}


def app_fixture(name: str) -> dict[str, Any]:
    """A recorded webhook fixture as an App's delivery (see `app_delivery`)."""
    return app_delivery(fixture_json(name))


def app_fixture_bytes(name: str) -> bytes:
    """The body of `app_fixture(name)`: the recorded bytes when they name an installation, else
    the derived copy in fixtures/app_deliveries/ or, for a file without one, the JSON re-serialised."""
    if "installation" in fixture_json(name):
        return fixture_bytes(name)
    derived = APP_DELIVERIES / name
    if derived.is_file():
        return derived.read_bytes()
    return (json.dumps(app_fixture(name), indent=2, ensure_ascii=False) + "\n").encode()


def actionable_deliveries() -> dict[str, tuple[str, dict[str, Any]]]:
    """One App delivery (event, payload) per kind of work routing starts or steers, from recorded
    fixtures changed only where needed to ask for work (default settings; `autofix_bot_login` may be
    `autofix-test[bot]`). Fresh payloads on each call."""
    failed = app_fixture("check_run.completed.1.json")
    ours = app_fixture("check_run.completed.1.json")
    ours["check_run"]["check_suite"]["head_branch"] = "autofix/v1-0123456789abcdef"
    labeled = app_fixture("issues.labeled.1.json")
    labeled["label"]["name"] = "autofix"
    comment = app_fixture("issue_comment.created.1.json")
    comment["comment"]["body"] = "/autofix retry"
    review = app_fixture("pull_request_review.submitted.1.json")
    review["review"]["state"] = "changes_requested"
    review["pull_request"]["head"]["ref"] = "autofix/check-1"
    sandbox = app_fixture("workflow_run.completed.2.json")
    sandbox["workflow_run"]["path"] = ".github/workflows/autofix-sandbox.yml"
    closed = app_fixture("pull_request.closed.3.json")
    closed["pull_request"]["head"]["ref"] = "autofix/check-1"
    closed["pull_request"]["user"]["login"] = "autofix-test[bot]"
    revert = app_fixture("push.none.4.json")
    revert["commits"][0]["message"] = f'Revert "fix: x"\n\nThis reverts commit {"ab" * 20}.\n'
    return {
        "check_run failed": ("check_run", failed),
        "check_run on our branch": ("check_run", ours),
        "issues labeled autofix": ("issues", labeled),
        "/autofix comment": ("issue_comment", comment),
        "review requesting changes": ("pull_request_review", review),
        "sandbox workflow_run": ("workflow_run", sandbox),
        "our pull_request closed": ("pull_request", closed),
        "revert pushed": ("push", revert),
        "installation": ("installation", app_fixture("installation.deleted.1.json")),
        "installation_repositories": (
            "installation_repositories",
            app_fixture("installation_repositories.added.1.json"),
        ),
    }


def event_of(name: str) -> str:
    return name.split(".", 1)[0]


def all_fixture_names() -> list[str]:
    return sorted(p.name for p in WEBHOOKS.glob("*.json"))


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"github_webhook_secret": SECRET, "github_app_id": APP_ID}
    return Settings(_env_file=None, **(values | overrides))


def signed_headers(
    body: bytes, event: str, delivery: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": sign(secret.encode(), body),
    }


async def deliver(
    client: httpx.AsyncClient,
    event: str,
    payload: bytes | dict[str, Any],
    delivery: str | None = None,
    secret: str = SECRET,
) -> httpx.Response:
    """POST a delivery signed as GitHub would sign it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, indent=2).encode()
    return await client.post(
        "/webhooks/github", content=body, headers=signed_headers(body, event, delivery, secret)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """An ASGI app served by uvicorn on a loopback port, in a thread: real HTTP for sync and async tests."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# -- the `autofix` console script as real processes ---------------------------------------------

AUTOFIX = Path(sys.executable).parent / "autofix"
_T = TypeVar("_T")
_process_numbers = itertools.count(1)


def cli_env(home: Path, **values: str | int | Path) -> dict[str, str]:
    """A clean environment for `autofix`: PATH and HOME, plus `values`; nothing of the developer's own."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}
    return env | {name: str(value) for name, value in values.items()}


def run_autofix(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run `autofix ARGS` to completion (cwd decides which `.env` it reads, if any)."""
    return subprocess.run(
        [str(AUTOFIX), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_until(probe: Callable[[], _T | None], timeout: float, what: str, interval: float = 0.05) -> _T:
    """Poll `probe` until it returns something truthy, and return that; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def pid_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan nobody reaps stays a zombie in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class AutofixProcess:
    """A long-running `autofix` command (serve, web, worker) as a child process.

    Its output goes to files in `cwd` (a pipe nobody reads would block it). Leaving the `with` block
    stops it with SIGTERM, then SIGKILL if it hangs, so it never outlives the test.
    """

    def __init__(self, *args: str, env: dict[str, str], cwd: Path) -> None:
        self.args, self.env, self.cwd = [str(AUTOFIX), *args], env, cwd
        stem = f"{args[0]}-{next(_process_numbers)}"
        self.stdout_path, self.stderr_path = cwd / f"{stem}.stdout", cwd / f"{stem}.stderr"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AutofixProcess:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig`, return the exit code; AssertionError (after a SIGKILL) if it does not exit in time."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.args[1]} did not exit within {timeout:.0f}s of {sig.name}:\n{self.stderr()}"
            ) from None

    def wait_http(self, url: str, timeout: float = 20.0) -> httpx.Response:
        """GET `url` until it answers 200; fail at once, with the child's stderr, if the child exits."""

        def answered() -> httpx.Response | None:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise AssertionError(f"{self.args[1]} exited with {code}:\n{self.stderr()}")
            try:
                r = httpx.get(url, timeout=1)
            except httpx.TransportError:
                return None
            return r if r.status_code == 200 else None

        return wait_until(answered, timeout, f"{url} to answer 200")


# -- the local GitHub, served ---------------------------------------------------------------------

OWNER = "octo-org"


@dataclass
class LocalGitHub:
    """A served `tests.fakes.github` state with the test App installed on `OWNER`."""

    state: GitHubState
    url: str
    private_key: str
    installation_id: int
    sim: Sim

    def client(self, **auth: Any) -> GitHub[Any]:
        """A githubkit client as the production edge builds one, authenticated as the installation."""
        return self._github(
            AppInstallationAuthStrategy(APP_ID, self.private_key, self.installation_id, **auth)
        )

    def app_client(self) -> GitHub[Any]:
        """The same, authenticated as the App itself (JWT)."""
        return self._github(AppAuthStrategy(APP_ID, self.private_key))

    def _github(self, strategy: AppAuthStrategy | AppInstallationAuthStrategy) -> GitHub[Any]:
        return GitHub(
            strategy,
            base_url=self.url,
            timeout=10,
            auto_retry=False,
            http_cache=False,
            cache_strategy=MemCacheStrategy(),
        )


@contextmanager
def local_github(git_root: Path, private_key: str, **state_options: Any) -> Iterator[LocalGitHub]:
    """Serve a fresh local GitHub on loopback (bare repositories under `git_root`)."""
    state = GitHubState(git_root=git_root, **state_options)
    state.add_app(APP_ID, private_key)
    inst = state.install(APP_ID, OWNER)
    with LiveServer(build_github(state)) as server:
        state.base_url = server.url
        yield LocalGitHub(state, server.url, private_key, inst.id, Sim(state))


# -- webhooks from the local GitHub ---------------------------------------------------------------


@dataclass
class ReceivedHook:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["x-github-event"]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class HookReceiver:
    """A webhook endpoint that keeps what it was sent (answers 202)."""

    seen: list[ReceivedHook] = field(default_factory=list)

    def app(self) -> ASGIApp:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def hook(request: Request) -> Response:
            self.seen.append(ReceivedHook(dict(request.headers), await request.body()))
            return Response(status_code=202)

        return Starlette(routes=[Route("/webhooks/github", hook, methods=["POST"])])

    def events(self, name: str) -> list[ReceivedHook]:
        return [h for h in self.seen if h.event == name]


@contextmanager
def hooks_to(served: LocalGitHub, receiver: HookReceiver) -> Iterator[HookReceiver]:
    """Send `served`'s webhooks, signed with SECRET, to `receiver` (served on loopback)."""
    from tests.fakes.github.webhooks import Hookshot

    with LiveServer(receiver.app()) as target:
        hookshot = Hookshot(served.state, f"{target.url}/webhooks/github", SECRET, APP_ID)
        try:
            yield receiver
        finally:
            hookshot.close()


@asynccontextmanager
async def app_client(app: Any, base_url: str = "http://autofix.test") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `app` in-process, with its lifespan run (the state a request sees)."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
