"""What the local GitHub knows: Apps, installations, tokens, repositories and what lives in them.

Plain dataclasses under one `GitHubState`. The server thread and the test thread both touch it, so
every mutation that spans more than one field happens under `state.lock`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes import SeenRequest
from tests.fakes.github.actionstate import Actions
from tests.fakes.github.faults import Faults

DEFAULT_PERMISSIONS = {
    "actions": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}
DEFAULT_EVENTS = ["check_run", "issue_comment", "issues", "pull_request", "workflow_run"]
TOKEN_LIFETIME_S = 3600


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # "User", "Organization" or "Bot"


@dataclass
class App:
    """A registered GitHub App: what GET /app shows, and the public key its JWTs must verify with."""

    id: int
    slug: str
    public_key: str
    name: str = "Autofix (test)"
    description: str = "Reproduces failing checks and proposes proven fixes."
    external_url: str = "https://autofix.example.com"
    owner_login: str = "autofix-org"
    owner_id: int = 7_200_301
    client_id: str = "Iv23liFakeClient01"
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    installations_count: int = 1
    created_at: str = "2026-01-12T09:30:00Z"
    updated_at: str = "2026-03-02T16:05:41Z"
    bot_id: int = 0  # the `<slug>[bot]` user that acts for the App

    @property
    def bot(self) -> User:
        return User(f"{self.slug}[bot]", self.bot_id or self.id + 40_000_000, "Bot")


@dataclass
class Installation:
    id: int
    app_id: int
    account: User
    repositories: list[str] | None = None  # full names; None = all of the account's repositories
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    created_at: str = "2026-03-02T16:10:00Z"

    def covers(self, full_name: str) -> bool:
        owner = full_name.split("/", 1)[0]
        if self.repositories is None:
            return owner == self.account.login
        return full_name in self.repositories


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float
    permissions: dict[str, str]
    repositories: list[str] | None  # None = every repository of the installation


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class Reaction:
    id: int
    content: str
    user: User
    created_at: float


@dataclass
class Comment:
    id: int
    repo: str
    issue_number: int
    body: str
    user: User
    created_at: float
    updated_at: float
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Pull:
    head_ref: str
    base_ref: str
    head_owner: str
    draft: bool = False
    merged: bool = False
    merged_at: float | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    head_sha: str = ""  # pinned when merged or closed; live from the branch otherwise
    base_sha: str = ""
    maintainer_can_modify: bool = False
    head_repo: Repo | None = None  # a fork's repository (None: the branch is in the base repository)


@dataclass
class ReviewComment:
    """An inline comment of a pull request review, on one line of the new side of the diff."""

    id: int
    review_id: int
    issue_number: int
    path: str
    line: int
    body: str
    user: User
    commit_id: str  # the head the review was made on
    diff_hunk: str
    position: int  # lines below the file's first hunk header, as GitHub counts them
    created_at: float


@dataclass
class Review:
    id: int
    repo: str
    issue_number: int
    user: User
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING
    body: str
    commit_id: str
    submitted_at: float | None
    comment_ids: list[int] = field(default_factory=list)


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (`pull` set): they share numbers as on GitHub."""

    id: int
    number: int
    title: str
    body: str | None
    user: User
    created_at: float
    updated_at: float
    state: str = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    labels: list[str] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    locked: bool = False
    pull: Pull | None = None


@dataclass
class CheckRun:
    id: int
    repo: str
    head_sha: str
    name: str
    app_id: int
    suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: float = 0.0
    completed_at: float | None = None
    external_id: str = ""
    details_url: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    head_branch: str | None = None


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    path: Path  # the bare git repository
    default_branch: str = "main"
    private: bool = True
    created_at: float = 0.0
    description: str | None = None
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> admin|maintain|write|triage|read
    labels: dict[str, Label] = field(default_factory=dict)  # lower-case name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)  # commits GitHub signed (made via the API by an App)
    allow_drafts: bool = True  # False: draft PRs are refused, as on private repos of free plans

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class GitHubState:
    apps: dict[int, App] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    rate_limits: dict[str, Any] = field(default_factory=dict)
    rate_limit: int = 5000  # requests per window and installation (x-ratelimit-limit); then a primary limit
    rate_window: int = 3600  # seconds until x-ratelimit-reset; tests shorten it to see a reset
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], float] = time.time  # GitHub's clock; tests skew it to mimic a drifting host
    git_root: Path | None = None  # where the bare repositories live (a tmp dir)
    base_url: str = "http://github.localhost"  # how the server is reached; LiveServer helpers set it
    token_format: str = "classic"  # or "long": `ghs_<id>_<header>.<payload>.<signature>`
    users: dict[str, User] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)  # full name -> repo
    comments: dict[int, Comment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    actions: Actions = field(default_factory=Actions)
    hook_deliveries: list[Any] = field(default_factory=list)  # webhooks.Delivery, oldest first
    deliver: Callable[[str, dict[str, Any]], object] | None = None  # set by webhooks.Hookshot
    hookshot: Any = None  # the webhooks.Hookshot sending deliveries, when one is configured
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ids: Any = field(default_factory=lambda: itertools.count(1_000_001), repr=False)

    def next_id(self) -> int:
        with self.lock:
            return int(next(self._ids))

    def add_app(self, app_id: int, private_key_pem: str, slug: str = "autofix-test") -> App:
        """Register an App whose JWTs are signed with `private_key_pem` (only its public half is kept)."""
        from tests.fakes.github.auth import public_key_of

        app = App(id=app_id, slug=slug, public_key=public_key_of(private_key_pem))
        self.apps[app_id] = app
        return app

    def user(self, login: str, type_: str = "User") -> User:
        """The user called `login`, created on first mention."""
        with self.lock:
            if login not in self.users:
                self.users[login] = User(login, self.next_id(), type_)
            return self.users[login]

    def install(
        self,
        app_id: int,
        account: str,
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
        installation_id: int | None = None,
    ) -> Installation:
        """Install App `app_id` on `account` (all its repositories, or only `repositories` by name)."""
        owner = self.user(account, "Organization" if account not in self.users else self.users[account].type)
        full = None if repositories is None else [f"{account}/{r}" for r in repositories]
        inst = Installation(installation_id or self.next_id(), app_id, owner, full)
        if permissions is not None:
            inst.permissions = dict(permissions)
        self.installations[inst.id] = inst
        return inst

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path)]
