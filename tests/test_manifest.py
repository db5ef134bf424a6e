"""github_app.yml stays in step with the code: the events it subscribes to are the events app/routing.py
routes, and every GitHub API call in app/ and jobs/ is covered by a permission it asks for.

`CALLS` names every REST path the code uses as the App, with the permission GitHub's REST reference
gives for the methods we use on it. A new call fails `test_every_api_call_is_listed` until it is
listed here, which is the moment to decide whether the manifest must ask for more. The dashboard's
sign-in calls GitHub with the signed-in user's own token (`/user`, `/orgs/{org}/members/{login}`:
members: read).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.routing import handled_events

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "github_app.yml"
LEVELS = {"read": 1, "write": 2, "admin": 3}
APP = ("app", "")  # authenticated as the App itself (JWT): no installation permission involved

# normalised path -> (permission, level) for the methods the code uses on it
CALLS: dict[str, tuple[str, str]] = {
    "/app": APP,
    "/app/installations": APP,
    "/repos/{}/{}/installation": APP,
    "/installation/repositories": ("metadata", "read"),
    "/app/hook/deliveries": APP,
    "/app/hook/deliveries/{}/attempts": APP,
    "/repos/{}/{}": ("metadata", "read"),
    "/repos/{}/{}/collaborators/{}/permission": ("metadata", "read"),
    "/repos/{}/{}/actions/artifacts/{}/zip": ("actions", "read"),
    "/repos/{}/{}/actions/jobs/{}/logs": ("actions", "read"),
    "/repos/{}/{}/actions/runs/{}": ("actions", "read"),
    "/repos/{}/{}/actions/runs/{}/artifacts": ("actions", "read"),
    "/repos/{}/{}/actions/runs/{}/cancel": ("actions", "write"),  # a sandbox run past the deadline
    "/repos/{}/{}/actions/workflows/{}/runs": ("actions", "read"),
    "/repos/{}/{}/actions/workflows/{}/dispatches": ("actions", "write"),
    "/repos/{}/{}/check-runs": ("checks", "write"),
    "/repos/{}/{}/check-runs/{}": ("checks", "write"),
    "/repos/{}/{}/commits/{}/check-runs": ("checks", "read"),
    "/repos/{}/commits/{}/check-runs": ("checks", "read"),  # (written as /repos/{full_name}/…)
    "/repos/{}/{}/commits/{}/pulls": ("pull_requests", "read"),
    "/repos/{}/{}/contents/{}": ("contents", "read"),
    "/repos/{}/{}/git/commits/{}": ("contents", "read"),
    "/repos/{}/{}/git/ref/heads/{}": ("contents", "read"),
    "/repos/{}/{}/git/commits": ("contents", "write"),
    "/repos/{}/{}/git/refs": ("contents", "write"),
    "/repos/{}/{}/git/refs/heads/{}": ("contents", "write"),
    "/repos/{}/{}/git/trees": ("contents", "write"),
    "/repos/{}/{}/issues/{}": ("issues", "read"),
    "/repos/{}/{}/issues": ("issues", "write"),  # list labelled issues; open the weekly report
    "/repos/{}/issues": ("issues", "write"),
    "/repos/{}/{}/issues/comments/{}": ("issues", "write"),
    "/repos/{}/{}/issues/{}/comments": ("issues", "write"),
    "/repos/{}/{}/issues/{}/labels": ("issues", "write"),
    "/repos/{}/{}/issues/{}/labels/{}": ("issues", "write"),
    "/repos/{}/{}/issues/{}/reactions": ("issues", "write"),
    "/repos/{}/{}/pulls": ("pull_requests", "write"),
    "/repos/{}/pulls": ("pull_requests", "read"),  # rebuild-state lists the bot's PRs
    "/repos/{}/{}/pulls/{}": ("pull_requests", "write"),
    "/repos/{}/{}/pulls/{}/reviews/{}/comments": ("pull_requests", "read"),
}
# githubkit operations called by name rather than by path
OPERATIONS: dict[str, tuple[str, str]] = {
    "apps.async_create_installation_access_token": APP,
    "apps.async_get_authenticated": APP,
    "apps.async_get_installation": APP,  # what an installation holds, when a mint asks for more
    "apps.async_list_installations": APP,
    "apps.async_list_repos_accessible_to_installation": ("metadata", "read"),
}
# the permission an App needs to receive each event (GitHub's "Webhook events and payloads")
EVENT_PERMISSION = {
    "check_run": "checks",
    "issues": "issues",
    "issue_comment": "issues",
    "pull_request": "pull_requests",
    "pull_request_review": "pull_requests",
    "push": "contents",
    "workflow_run": "actions",
}
ALWAYS_DELIVERED = {"installation", "installation_repositories"}  # not subscribable, sent to every App
NEVER = {"workflows", "administration", "secrets", "environments", "organization_administration"}

_API = r"/(?:repos|app|installation|orgs|users?)\b"
_PATH = re.compile(rf"""f?(?:"({_API}[^"]*)"|'({_API}[^']*)')""")  # a path in "…" or '…'
_OPERATION = re.compile(r"gh\.rest\.([a-z_]+\.async_[a-z_]+)")


def manifest() -> dict[str, object]:
    data = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(data, dict)
    return data


def code_calls() -> tuple[set[str], set[str]]:
    paths, operations = set(), set()
    for source in [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("jobs").rglob("*.py")]:
        text = source.read_text()
        paths |= {re.sub(r"\{[^}]*\}", "{}", m.group(1) or m.group(2)) for m in _PATH.finditer(text)}
        operations |= set(_OPERATION.findall(text))
    return paths, operations


def granted(permission: str, level: str) -> bool:
    if (permission, level) == APP:
        return True
    have = manifest()["default_permissions"]
    assert isinstance(have, dict)
    return LEVELS.get(str(have.get(permission)), 0) >= LEVELS[level]


def test_subscribed_events_are_exactly_the_routed_ones() -> None:
    subscribed = set(manifest()["default_events"])  # type: ignore[call-overload]
    assert subscribed == handled_events() - ALWAYS_DELIVERED


@pytest.mark.parametrize("event", sorted(EVENT_PERMISSION))
def test_each_event_has_the_permission_that_delivers_it(event: str) -> None:
    assert granted(EVENT_PERMISSION[event], "read"), event


def test_every_routed_event_has_a_known_permission() -> None:
    assert handled_events() - ALWAYS_DELIVERED <= set(EVENT_PERMISSION)


def test_every_api_call_is_listed() -> None:
    paths, operations = code_calls()
    assert paths - set(CALLS) == set(), "new GitHub API paths: list them in CALLS with their permission"
    assert operations - set(OPERATIONS) == set(), "new githubkit operations: list them in OPERATIONS"
    assert set(CALLS) - paths == set(), "CALLS lists paths the code no longer uses"


@pytest.mark.parametrize(("path", "need"), sorted((CALLS | OPERATIONS).items()))
def test_every_api_call_is_granted(path: str, need: tuple[str, str]) -> None:
    assert granted(*need), f"{path} needs {need[0]}: {need[1]}"


def test_least_privilege() -> None:
    have = manifest()["default_permissions"]
    assert isinstance(have, dict)
    assert not NEVER & set(have), "never ask for these: a model's patch must not be able to change CI"
    needed = {perm for perm, _ in (*CALLS.values(), *OPERATIONS.values())} | set(EVENT_PERMISSION.values())
    extra = set(have) - needed - {"members"}  # members: the dashboard's sign-in by organisation
    assert extra == set(), f"permissions nothing uses: {extra}"
    for permission, level in have.items():
        needs = [lvl for perm, lvl in CALLS.values() if perm == permission]
        top = max((LEVELS[lvl] for lvl in needs), default=LEVELS["read"])
        assert LEVELS[level] <= top, f"{permission}: {level} is more than the code needs"


def test_every_permission_says_why() -> None:
    lines = MANIFEST.read_text().splitlines()
    start = lines.index("default_permissions:")
    for i, line in enumerate(lines[start + 1 :], start + 1):
        if re.match(r"  [a-z_]+: (read|write)$", line):
            assert lines[i - 1].strip().startswith("#"), f"{line.strip()} has no comment saying why"
