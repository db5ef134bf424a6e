"""Check runs and webhooks on the local GitHub: signed deliveries githubkit parses, redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from githubkit.webhooks import parse
from githubkit_schemas.latest.models import (
    WebhookCheckRunCompleted,
    WebhookIssueCommentCreated,
    WebhookIssuesLabeled,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.signatures import verify_signature
from tests.fakes.github import gitstore
from tests.fakes.github.state import Repo
from tests.fakes.github.webhooks import Hookshot
from tests.support import APP_ID, OWNER, SECRET, LiveServer, LocalGitHub, local_github


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    seen: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.seen.append(Received(dict(request.headers), await request.body()))
            return Response(status_code=202)

        return Starlette(routes=[Route("/webhooks/github", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def gh(tmp_path: Path, app_key: str, receiver: Receiver) -> Iterator[LocalGitHub]:
    with LiveServer(receiver.app()) as target, local_github(tmp_path / "github", app_key) as served:
        hookshot = Hookshot(served.state, f"{target.url}/webhooks/github", SECRET, APP_ID)
        yield served
        hookshot.close()


@pytest.fixture
def repo(gh: LocalGitHub) -> Repo:
    return gh.sim.create_repo(OWNER, "demo", {"a.py": "x = 1\n"})


def head(repo: Repo) -> str:
    sha = gitstore.rev_parse(repo.path, "refs/heads/main")
    assert sha is not None
    return sha


def check_signed(received: Received) -> None:
    assert verify_signature([SECRET.encode()], received.body, received.headers["x-hub-signature-256"])
    assert received.headers["user-agent"].startswith("GitHub-Hookshot/")
    assert received.headers["x-github-hook-installation-target-type"] == "integration"


async def test_bot_check_run_lifecycle_and_completed_webhook(
    gh: LocalGitHub, repo: Repo, receiver: Receiver
) -> None:
    client = gh.client()
    created = await client.rest.checks.async_create(
        OWNER, "demo", name="autofix", head_sha=head(repo), status="in_progress", external_id="job-1"
    )
    run_id = created.parsed_data.id
    done = await client.rest.checks.async_update(
        OWNER,
        "demo",
        run_id,
        status="completed",
        conclusion="success",
        output={"title": "Fixed", "summary": "ok"},
    )
    listed = (await client.rest.checks.async_list_for_ref(OWNER, "demo", "main")).parsed_data
    got = (await client.rest.checks.async_get(OWNER, "demo", run_id)).parsed_data

    assert created.status_code == 201
    assert done.parsed_data.conclusion == "success"
    assert listed.total_count == 1
    assert listed.check_runs[0].id == got.id == run_id
    [delivery] = gh.state.hookshot.flush()
    [received] = receiver.seen
    check_signed(received)
    event = parse(received.headers["x-github-event"], received.body)
    assert isinstance(event, WebhookCheckRunCompleted)
    assert event.check_run.conclusion == "success"
    assert received.headers["x-github-delivery"] == delivery.guid


async def test_sim_failures_labels_and_comments_arrive_as_parsed_webhooks(
    gh: LocalGitHub, repo: Repo, receiver: Receiver
) -> None:
    gh.sim.fail_check(repo, head(repo), "tests", APP_ID)
    issue = gh.sim.open_issue(repo, "broken", "add() is wrong")
    gh.sim.label_issue(repo, issue.number, "autofix")
    gh.sim.comment(repo, issue.number, "/autofix retry", user="lisa")
    deliveries = gh.state.hookshot.flush()

    assert [d.event for d in deliveries] == ["check_run", "issues", "issues", "issue_comment"]
    assert all(d.status_code == 202 for d in deliveries)
    events = [parse(r.headers["x-github-event"], r.body) for r in receiver.seen]
    check_run, _, labeled, commented = events
    assert isinstance(check_run, WebhookCheckRunCompleted)
    assert check_run.check_run.conclusion == "failure"
    assert isinstance(labeled, WebhookIssuesLabeled)
    assert labeled.label is not None
    assert labeled.label.name == "autofix"
    assert isinstance(commented, WebhookIssueCommentCreated)
    assert commented.comment.body == "/autofix retry"
    assert commented.installation
    assert commented.installation.id == gh.installation_id
    for received in receiver.seen:
        check_signed(received)


async def test_delivery_log_and_redelivery_keep_the_guid(gh: LocalGitHub, repo: Repo) -> None:
    issue = gh.sim.open_issue(repo, "one")
    gh.sim.comment(repo, issue.number, "two")
    gh.sim.comment(repo, issue.number, "three")
    gh.state.hookshot.flush()
    app = gh.app_client()

    first = await app.rest.apps.async_list_webhook_deliveries(per_page=2)
    items = [d for page in [first] for d in page.parsed_data]
    assert [d.event for d in items] == ["issue_comment", "issue_comment"]
    assert 'rel="next"' in first.headers["link"]
    oldest = items[-1]
    answer = await app.rest.apps.async_redeliver_webhook_delivery(oldest.id)
    gh.state.hookshot.flush()

    assert answer.status_code == 202
    newest = (await app.rest.apps.async_list_webhook_deliveries(per_page=1)).parsed_data[0]
    assert newest.redelivery is True
    assert newest.guid == oldest.guid
    assert newest.status_code == 202
