"""Test helpers that change the local GitHub the way people and CI would (and, later, send webhooks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tests.fakes.github import events, gitstore, pulls
from tests.fakes.github.events import person_of
from tests.fakes.github.state import CheckRun, Comment, GitHubState, Issue, Repo


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

    def label_issue(self, repo: Repo, number: int, label: str, user: str = "mona") -> None:
        """A person adds `label` (sends issues.labeled, or pull_request.labeled on a PR)."""
        events.add_label(self.state, repo, repo.issues[number], label, self.state.user(user))

    def fail_check(
        self, repo: Repo, sha: str, name: str, app_id: int, summary: str = "1 test failed"
    ) -> CheckRun:
        """CI reports a failed check run on `sha` (created and completed; sends check_run.completed)."""
        from tests.fakes.github.api_checks import apply

        state = self.state
        run = CheckRun(state.next_id(), repo.full_name, sha, name, app_id, state.next_id())
        run.started_at = state.clock()
        state.check_runs[run.id] = run
        body = {"status": "completed", "conclusion": "failure", "output": {"title": name, "summary": summary}}
        apply(state, repo, run, body, state.apps[app_id].bot)
        return run

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

    def close_pr(self, repo: Repo, number: int, user: str = "mona") -> None:
        """A person closes a pull request unmerged (sends pull_request.closed, merged false)."""
        events.apply_issue_changes(
            self.state, repo, repo.issues[number], {"state": "closed"}, self.state.user(user)
        )

    def merge_pr(self, repo: Repo, number: int, user: str = "mona", method: str = "merge") -> str:
        """A person merges a pull request (sends pull_request.closed, merged true); the new base sha."""
        return pulls.merge_pull(self.state, repo, repo.issues[number], self.state.user(user), method)
