"""What a command handler gets: who asked what, where, and the seams to act with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.commands import Command
from app.github.client import Installation
from app.job_records import JobStore
from app.repo_config import RepoConfig
from jobs.commands.thread import Thread, fetch_thread
from jobs.deps import Deps

JSON = dict[str, Any]


class Answer(NamedTuple):
    """A handler's outcome: 🚀 or 😕, the reply (None: react only), and what the audit trail keeps."""

    ok: bool
    reply: str | None
    audit: JSON | None = None


@dataclass
class Asked:
    deps: Deps
    request: JSON
    command: Command
    config: RepoConfig
    inst: Installation
    job_id: str
    _thread: Thread | None = field(default=None, repr=False)

    @property
    def owner(self) -> str:
        return str(self.request["repo"]).split("/", 1)[0]

    @property
    def name(self) -> str:
        return str(self.request["repo"]).split("/", 1)[1]

    @property
    def repo_id(self) -> int:
        return int(self.request["repo_id"])

    @property
    def number(self) -> int:
        return int(self.request["number"])

    @property
    def author(self) -> str:
        return str(self.request["author"])

    @property
    def store(self) -> JobStore:
        return JobStore(self.deps.redis, clock=self.deps.clock)

    async def thread(self) -> Thread:
        if self._thread is None:
            self._thread = await fetch_thread(
                self.inst, self.store, owner=self.owner, repo=self.name, number=self.number,
                is_pr=bool(self.request.get("is_pull_request")),
                prefix=self.deps.settings.autofix_branch_prefix,
            )  # fmt: skip
        return self._thread
