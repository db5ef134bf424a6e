"""What people see while fix_check_run works: the bot's `Autofix` check run on the failing commit, and
a sticky comment on the broken PR when there is one. A mixin of `CheckJob`; updates are paced and
coalesced by jobs/publish/reporter.py so they never hold up the fix."""

from __future__ import annotations

from dataclasses import dataclass

from app.github.checks import CheckOutput, create_check_run
from app.github.client import Installation
from app.github.conversation import upsert_sticky_comment
from app.job_records import JobRecord
from jobs.check_facts import Target
from jobs.publish.reporter import StatusReporter
from jobs.publish.status import CHECK_NAME, STATUS_MARKER, CheckView, render_check, render_status_comment


@dataclass(frozen=True)
class Status:
    view: CheckView
    pr: int | None
    comment: str | None


class CheckStatus:
    inst: Installation
    owner: str
    name: str
    job_id: str
    head_sha: str
    target: Target | None
    links: dict[str, str]
    reporter: StatusReporter[Status]

    def status(self, record: JobRecord, view: CheckView | None = None) -> Status:
        """What the check run and the broken PR's sticky comment should say now (a snapshot)."""
        pr = self.target.pr.number if self.target is not None and self.target.pr is not None else None
        comment = render_status_comment(record, links=self.links) if pr is not None else None
        return Status(view or render_check(record), pr, comment)

    async def show(self, record: JobRecord, view: CheckView | None = None) -> None:
        """Progress: paced and coalesced in the background (see jobs/publish/reporter.py)."""
        self.reporter.update(self.status(record, view))

    async def write_status(self, status: Status) -> None:
        view = status.view
        conclusion = view.conclusion if view.status == "completed" else None
        await create_check_run(
            self.inst,
            self.owner,
            self.name,
            name=CHECK_NAME,
            head_sha=self.head_sha,
            external_id=self.job_id,
            status=view.status,
            conclusion=conclusion,
            output=CheckOutput(view.title, view.summary),
        )
        if status.pr is not None and status.comment is not None:
            await upsert_sticky_comment(
                self.inst, self.owner, self.name, status.pr, STATUS_MARKER, status.comment
            )
