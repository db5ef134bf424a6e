"""Test helpers that change the local GitHub the way people and CI would, sending GitHub's webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.github import actionruns, events, forks, gitstore, pulls, pushes, reviews
from tests.fakes.github.actionstate import WorkflowRun
from tests.fakes.github.events import person_of
from tests.fakes.github.state import CheckRun, Comment, GitHubState, Issue, Repo, Review
from tests.fakes.github.workflows import WORKFLOWS_DIR, WorkflowSpec, workflow_id


@dataclass
class Sim:
    state: GitHubState

    def create_repo(
        self,
        owner: str,
        name: str,
        files: dict[str, str] | None = None,
        default_branch: str = "main",
        private: bool = True,
    ) -> Repo:
        """A repository whose default branch holds one commit with `files` (path -> text)."""
        state = self.state
        assert state.git_root is not None, "GitHubState(git_root=...) is needed for repositories"
        owner_user = state.user(owner)
        now = state.clock()
        repo = Repo(state.next_id(), owner_user, name, state.git_root / owner / f"{name}.git")
        repo.default_branch, repo.private, repo.created_at = default_branch, private, now
        gitstore.init_bare(repo.path, default_branch)
        entries = [
            ("100644", path, gitstore.hash_blob(repo.path, text.encode()))
            for path, text in (files or {"README.md": f"# {name}\n"}).items()
        ]
        tree = gitstore.write_tree(repo.path, None, entries)
        author = person_of(owner_user, now)
        sha = gitstore.commit_tree(repo.path, tree, [], "Initial commit\n", author, author)
        gitstore.update_ref(repo.path, f"refs/heads/{default_branch}", sha)
        repo.collaborators[owner] = "admin"
        with state.lock:
            state.repos[repo.full_name] = repo
        return repo

    def commit(
        self, repo: Repo, branch: str, files: Mapping[str, str | None], message: str, author: str
    ) -> str:
        """Commit `files` (None deletes) on `branch` (created from the default branch), as `author`."""
        head = gitstore.rev_parse(repo.path, f"refs/heads/{branch}")
        parent = head or gitstore.rev_parse(repo.path, f"refs/heads/{repo.default_branch}")
        assert parent is not None
        entries = [
            ("100644", path, None if text is None else gitstore.hash_blob(repo.path, text.encode()))
            for path, text in files.items()
        ]
        tree = gitstore.write_tree(repo.path, f"{parent}^{{tree}}", entries)
        who = person_of(self.state.user(author), self.state.clock())
        sha = gitstore.commit_tree(repo.path, tree, [parent], message, who, who)
        gitstore.update_ref(repo.path, f"refs/heads/{branch}", sha)
        pushes.announce_push(self.state, repo, f"refs/heads/{branch}", head, sha, self.state.user(author))
        return sha

    def open_issue(self, repo: Repo, title: str, body: str | None = None, user: str = "mona") -> Issue:
        return events.open_issue(self.state, repo, title, body, self.state.user(user))

    def set_permission(self, repo: Repo, login: str, role: str) -> None:
        """Make `login` a collaborator with `role` (admin, maintain, write, triage, read)."""
        self.state.user(login)
        repo.collaborators[login] = role

    def comment(self, repo: Repo, number: int, body: str, user: str = "mona") -> Comment:
        """A person comments (sends issue_comment.created)."""
        return events.add_comment(self.state, repo, repo.issues[number], body, self.state.user(user))

    def review(
        self,
        repo: Repo,
        number: int,
        event: str,
        body: str = "",
        comments: list[dict[str, Any]] | None = None,
        user: str = "mona",
    ) -> Review:
        """A person submits a review (`event`: APPROVE, REQUEST_CHANGES, COMMENT) with inline
        `comments` ({path, line, body}) at the PR's head (sends pull_request_review.submitted)."""
        issue = repo.issues[number]
        return reviews.submit_review(self.state, repo, issue, self.state.user(user), event, body, comments)

    def label_issue(self, repo: Repo, number: int, label: str, user: str = "mona") -> None:
        """A person adds `label` (sends issues.labeled, or pull_request.labeled on a PR)."""
        events.add_label(self.state, repo, repo.issues[number], label, self.state.user(user))

    def fail_check(
        self,
        repo: Repo,
        sha: str,
        name: str,
        app_id: int | None = None,
        summary: str = "1 test failed",
        log: str | None = None,
    ) -> CheckRun:
        """CI reports a failed check run on `sha` (sends check_run.completed).

        With `app_id`, that App's check run; without, a failed GitHub Actions job named `name` in a
        "CI" run on push, whose log is `log` (the check run id is the job id, as on GitHub).
        """
        if app_id is None:
            run = self.start_ci_run(repo, sha, [name])
            self.complete_workflow_run(run, "failure", logs={name: log} if log else None)
            return self.state.check_runs[run.job_ids[0]]
        from tests.fakes.github.api_checks import apply

        state = self.state
        check = CheckRun(state.next_id(), repo.full_name, sha, name, app_id, state.next_id())
        check.started_at = state.clock()
        state.check_runs[check.id] = check
        body = {"status": "completed", "conclusion": "failure", "output": {"title": name, "summary": summary}}
        apply(state, repo, check, body, state.apps[app_id].bot)
        return check

    def start_ci_run(
        self, repo: Repo, sha: str, jobs: list[str], workflow: str = "ci.yml", user: str = "mona"
    ) -> WorkflowRun:
        """A push-triggered Actions run on `sha` with `jobs` queued (no workflow file needed)."""
        path = f"{WORKFLOWS_DIR}/{workflow}"
        spec = WorkflowSpec(workflow_id(self.state, repo, path), path, "CI", None, False, {}, jobs)
        branch = next(
            (
                r.removeprefix("refs/heads/")
                for r, s in gitstore.list_refs(repo.path, "refs/heads/").items()
                if s == sha
            ),
            repo.default_branch,
        )
        who = self.state.user(user)
        return actionruns.start_run(self.state, repo, spec, branch, "push", who, {}, "CI", head_sha=sha)

    def complete_workflow_run(
        self,
        run: WorkflowRun,
        conclusion: str,
        logs: dict[str, str] | None = None,
        artifacts: dict[str, dict[str, bytes]] | None = None,
    ) -> None:
        """The run finishes (check_run.completed for each job, then workflow_run.completed)."""
        repo = self.state.repos[run.repo]
        actionruns.complete_run(self.state, repo, run, conclusion, logs, artifacts)

    def open_pr(
        self,
        repo: Repo,
        head: str,
        title: str = "A change",
        body: str | None = None,
        base: str | None = None,
        user: str = "mona",
        draft: bool = False,
    ) -> Issue:
        """A person opens a pull request from branch `head` (sends pull_request.opened)."""
        base = base or repo.default_branch
        return pulls.open_pull(self.state, repo, head, base, title, body, self.state.user(user), draft)

    def open_fork_pr(
        self, repo: Repo, owner: str, branch: str, files: Mapping[str, str | None], title: str = "A change"
    ) -> tuple[Repo, Issue]:
        """`owner` forks `repo`, commits `files` on `branch` of the fork and opens a PR from it."""
        fork = forks.fork_repo(self.state, repo, owner)
        parent = gitstore.rev_parse(fork.path, f"refs/heads/{fork.default_branch}")
        assert parent is not None
        entries = [
            ("100644", path, None if text is None else gitstore.hash_blob(fork.path, text.encode()))
            for path, text in files.items()
        ]
        tree = gitstore.write_tree(fork.path, f"{parent}^{{tree}}", entries)
        who = person_of(self.state.user(owner), self.state.clock())
        sha = gitstore.commit_tree(fork.path, tree, [parent], title + "\n", who, who)
        gitstore.update_ref(fork.path, f"refs/heads/{branch}", sha)
        return fork, forks.open_fork_pull(self.state, repo, fork, branch, title)

    def close_pr(self, repo: Repo, number: int, user: str = "mona") -> None:
        """A person closes a pull request unmerged (sends pull_request.closed, merged false)."""
        events.apply_issue_changes(
            self.state, repo, repo.issues[number], {"state": "closed"}, self.state.user(user)
        )

    def merge_pr(self, repo: Repo, number: int, user: str = "mona", method: str = "merge") -> str:
        """A person merges a pull request (sends pull_request.closed, merged true); the new base sha."""
        return pulls.merge_pull(self.state, repo, repo.issues[number], self.state.user(user), method)
