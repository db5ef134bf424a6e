"""Pure renderers for the JSON shapes GitHub returns (users, Apps, installations, repositories).

Shapes follow the real payloads in tests/fixtures/webhooks and githubkit's strict models: every
field those models require is present, with `null` where GitHub sends null.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from tests.fakes.github.state import App, Installation, Repo, User


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def render_user(api: str, user: User) -> dict[str, Any]:
    url = f"{api}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("User", user.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"https://github.com/{user.login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def render_app(api: str, app: App) -> dict[str, Any]:
    """The App object as GET /app returns it."""
    owner = User(app.owner_login, app.owner_id, "Organization")
    return {
        "id": app.id,
        "client_id": app.client_id,
        "slug": app.slug,
        "node_id": f"A_kwDO{app.id:08X}",
        "owner": render_user(api, owner),
        "name": app.name,
        "description": app.description,
        "external_url": app.external_url,
        "html_url": f"https://github.com/apps/{app.slug}",
        "created_at": app.created_at,
        "updated_at": app.updated_at,
        "permissions": dict(app.permissions),
        "events": list(app.events),
        "installations_count": app.installations_count,
    }


def render_installation(api: str, inst: Installation, app: App) -> dict[str, Any]:
    return {
        "id": inst.id,
        "client_id": app.client_id,
        "account": render_user(api, inst.account),
        "repository_selection": "all" if inst.repositories is None else "selected",
        "access_tokens_url": f"{api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{api}/installation/repositories",
        "html_url": f"https://github.com/settings/installations/{inst.id}",
        "app_id": inst.app_id,
        "app_slug": app.slug,
        "target_id": inst.account.id,
        "target_type": inst.account.type,
        "permissions": dict(inst.permissions),
        "events": list(inst.events),
        "created_at": inst.created_at,
        "updated_at": inst.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def render_repo(api: str, repo: Repo, open_issues: int = 0) -> dict[str, Any]:
    """The full repository object (GET /repos/{o}/{r}; also `repository` in webhook payloads)."""
    url = f"{api}/repos/{repo.full_name}"
    created = iso(repo.created_at)
    return {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": render_user(api, repo.owner),
        "html_url": f"https://github.com/{repo.full_name}",
        "description": repo.description,
        "fork": False,
        "url": url,
        **{key: url + suffix for key, suffix in _REPO_URLS.items()},
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": f"{api}/{repo.full_name}.git",
        "svn_url": f"https://github.com/{repo.full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "size": 1,
        "stargazers_count": 0,
        "watchers_count": 0,
        "forks_count": 0,
        "open_issues_count": open_issues,
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "subscribers_count": 1,
        "network_count": 0,
        "default_branch": repo.default_branch,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "is_template": False,
        "license": None,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "custom_properties": {},
    }
