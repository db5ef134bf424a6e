"""Publishing against the local GitHub: one commit, branch, PR and link comment, however often it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.github.client import GitHubApp
from app.job_records import JobStore
from app.settings import Settings
from jobs.publish.executor import BranchMoved, PublishPlan, publish_pr
from jobs.publish.files import PatchDoesNotApply, changed_paths, files_after
from tests.github_support import Clock
from tests.support import OWNER, LocalGitHub

DIFF = """\
diff --git a/src/stats.py b/src/stats.py
--- a/src/stats.py
+++ b/src/stats.py
@@ -1,2 +1,2 @@
 def mean(xs):
-    return sum(xs) / len(xs)
+    return sum(xs) / len(xs) if xs else 0.0
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-x
"""
FILES = {"src/stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n", "old.txt": "x\n"}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def edge(gh: LocalGitHub, app_settings: Settings, redis: Redis, clock: Clock) -> GitHubApp:
    # the fake clock: the 1 s spacing between writes passes without waiting
    settings = app_settings.model_copy(update={"github_api_url": gh.url})
    return GitHubApp(settings, redis, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)


def workspace_of(bare: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    git("clone", "--quiet", str(bare), str(work))
    return work


def test_files_after_applies_to_a_scratch_copy_and_leaves_the_workspace_alone(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    git("init", "--quiet", cwd=work)
    for path, text in FILES.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    git("add", ".", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "init", cwd=work)

    after = files_after(work, DIFF)

    assert after == {
        "src/stats.py": "def mean(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n",
        "old.txt": None,
    }
    assert (work / "src/stats.py").read_text() == FILES["src/stats.py"]
    assert git("worktree", "list", cwd=work).count("\n") == 0  # the scratch worktree is gone
    with pytest.raises(PatchDoesNotApply):
        files_after(work, DIFF.replace("return sum(xs) / len(xs)\n+", "return nothing\n+"))


def test_a_rename_deletes_the_old_path() -> None:
    rename = "diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\nrename to b.py\n"
    assert changed_paths(rename) == {"a.py": False, "b.py": True}


async def test_publishing_twice_converges_on_one_commit_branch_pr_and_comment(
    gh: LocalGitHub, edge: GitHubApp, redis: Redis, tmp_path: Path
) -> None:
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    gh.sim.commit(repo, "feature", {"notes.txt": "wip\n"}, "wip", "mona")
    broken = gh.sim.open_pr(repo, "feature", title="Feature")
    base_sha = git("--git-dir", str(repo.path), "rev-parse", "main")
    changes = files_after(workspace_of(repo.path, tmp_path), DIFF)
    plan = PublishPlan(
        owner=OWNER,
        repo="demo",
        base_branch="main",
        base_sha=base_sha,
        head_branch="autofix/v1-0123456789abcdef",
        title="fix(stats): the mean of an empty list divides by zero",
        body="body",
        commit_message="fix(stats): x\n\nAutofix-Fingerprint: v1:0123456789abcdef\n",
        changes=changes,
        labels=["autofix"],
        link_on=broken.number,
    )
    store = JobStore(redis)
    inst = edge.installation(gh.installation_id)

    record = await store.start("check:1:abc:tests", "fix_check_run", f"{OWNER}/demo", {})
    first = await publish_pr(inst, store, record, plan)
    retried = await store.start("check:1:abc:tests", "fix_check_run", f"{OWNER}/demo", {})
    again = await publish_pr(inst, store, retried, plan)

    assert first.created
    assert (again.number, again.commit_sha) == (first.number, first.commit_sha)
    prs = [i for i in repo.issues.values() if i.pull is not None and i.pull.head_ref == plan.head_branch]
    assert len(prs) == 1
    assert prs[0].pull is not None
    assert prs[0].pull.draft
    assert list(prs[0].labels) == ["autofix"]
    assert git("--git-dir", str(repo.path), "rev-parse", plan.head_branch) == first.commit_sha
    shown = git("--git-dir", str(repo.path), "show", f"{first.commit_sha}:src/stats.py")
    assert "if xs else 0.0" in shown
    assert "old.txt" not in git("--git-dir", str(repo.path), "ls-tree", "-r", "--name-only", first.commit_sha)
    links = [c for c in gh.state.comments.values() if c.issue_number == broken.number]
    assert len(links) == 1
    assert f"#{first.number}" in links[0].body


async def test_a_follow_up_is_a_fast_forward_and_a_moved_branch_refuses(
    gh: LocalGitHub, edge: GitHubApp, redis: Redis, tmp_path: Path
) -> None:
    """`/autofix revise`: the commit's parent is the branch head; the branch is never forced."""
    repo = gh.sim.create_repo(OWNER, "demo", files=FILES)
    head_branch = "autofix/v1-0123456789abcdef"
    head = gh.sim.commit(repo, head_branch, {"notes.txt": "fix\n"}, "fix", "mona")
    changes = files_after(workspace_of(repo.path, tmp_path), DIFF)
    plan = PublishPlan(
        owner=OWNER, repo="demo", base_branch="main", base_sha=head, head_branch=head_branch, title="fix",
        body="body", commit_message="fix: address review feedback\n", changes=changes, follow_up=True,
    )  # fmt: skip
    store = JobStore(redis)
    inst = edge.installation(gh.installation_id)
    bare = ("--git-dir", str(repo.path))

    done = await publish_pr(inst, store, await store.start("r:1", "fix_check_run", f"{OWNER}/demo", {}), plan)

    assert git(*bare, "rev-parse", plan.head_branch) == done.commit_sha
    assert git(*bare, "rev-list", "--parents", "-n", "1", done.commit_sha).split() == [done.commit_sha, head]
    pushed = gh.sim.commit(repo, plan.head_branch, {"notes.txt": "by hand\n"}, "by hand", "mona")
    with pytest.raises(BranchMoved) as moved:
        await publish_pr(inst, store, await store.start("r:2", "fix_check_run", f"{OWNER}/demo", {}), plan)
    assert (moved.value.was, moved.value.now) == (head, pushed)
    assert git(*bare, "rev-parse", plan.head_branch) == pushed  # their commit stays
