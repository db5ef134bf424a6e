"""route() over every real payload, then the rules one by one on variants of real payloads."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.payloads import MalformedPayload
from app.routing import handled_events, route
from jobs import names
from tests.support import (
    APP_ID,
    actionable_deliveries,
    all_fixture_names,
    app_fixture,
    event_of,
    fixture_json,
    make_settings,
)

SETTINGS = make_settings(autofix_bot_login="autofix-test[bot]")

# fixture file -> (job function, job id) for those that make a job; everything else is ignored
EXPECTED_JOBS = {
    "check_run.completed.1.json": (
        names.FIX_CHECK_RUN,
        "check:186853002:ec26c3e57ca3a959ca5aad62de7213c562f8c821:Octocoders-linter",
    ),
    "installation.created.1.json": (names.RECORD_INSTALLATION, "install:957387:created:1557933591:"),
    "installation.created.2.json": (names.RECORD_INSTALLATION, "install:2:created:"),
    "installation.deleted.1.json": (names.RECORD_INSTALLATION, "install:2:deleted:"),
    "installation_repositories.added.1.json": (names.RECORD_INSTALLATION, "install:957387:added:"),
    "installation_repositories.removed.1.json": (names.RECORD_INSTALLATION, "install:2:removed:"),
}
# a few ignore reasons worth pinning down: they are what a maintainer reads in GitHub's delivery log
EXPECTED_REASONS = {
    "check_run.completed.2.json": "check run concluded 'success', not a failure",
    "check_run.created.1.json": "check_run.created: autofix acts on check_run.completed only",
    "issues.labeled.1.json": "label 'bug' is not the trigger label 'autofix'",
    "issue_comment.created.4.json": "comment does not start with /autofix",
    "issue_comment.edited.1.json": "issue_comment.edited: autofix acts on issue_comment.created only",
    "pull_request.closed.1.json": "pull request was not opened by autofix",
    "push.none.1.json": "push is not to the default branch",
    "push.none.3.json": "push reverts no commit",
    "workflow_run.completed.2.json": "workflow tryrebase.yml is not the autofix sandbox workflow",
}


def _route(name: str, payload: dict[str, Any] | None = None, **settings: Any) -> Any:
    s = make_settings(autofix_bot_login="autofix-test[bot]", **settings) if settings else SETTINGS
    return route(event_of(name), payload if payload is not None else app_fixture(name), s)


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_real_payload_routes_as_expected(name: str) -> None:
    """Each recorded payload as an App receives it (with an installation: see app_fixture)."""
    routed = _route(name)
    if name in EXPECTED_JOBS:
        function, job_id = EXPECTED_JOBS[name]
        assert routed.ignored is None
        assert [j.function for j in routed.jobs] == [function]
        assert routed.jobs[0].job_id.startswith(job_id)
        assert routed.jobs[0].args["installation_id"] == app_fixture(name)["installation"]["id"]
    else:
        assert routed.jobs == []
        assert routed.ignored
        if name in EXPECTED_REASONS:
            assert routed.ignored == EXPECTED_REASONS[name]


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_real_payload_without_an_installation_is_malformed_only_if_it_asks_for_work(name: str) -> None:
    """A6: a repository hook's payload (no `installation`) keeps its answer when it asks for nothing;
    when it would start work, routing refuses it, naming the field."""
    payload = fixture_json(name)
    payload.pop("installation", None)
    if name in EXPECTED_JOBS:
        with pytest.raises(MalformedPayload, match="'installation'"):
            _route(name, payload)
    else:
        assert _route(name, payload) == _route(name)


# what a delivery may hold instead of `{"installation": {"id": <int>, ...}}`
NO_INSTALLATIONS: list[dict[str, Any]] = [
    {},
    {"installation": None},
    {"installation": []},
    {"installation": {}},
    {"installation": {"id": "31337"}},
    {"installation": {"id": True}},
]


@pytest.mark.parametrize("kind", sorted(actionable_deliveries()))
def test_every_kind_of_work_carries_the_installation_and_needs_one(kind: str) -> None:
    event, payload = actionable_deliveries()[kind]
    payload["installation"] = {"id": 31337, "node_id": "x"}
    jobs = route(event, payload, SETTINGS).jobs
    assert jobs
    assert [j.args["installation_id"] for j in jobs] == [31337] * len(jobs)
    for missing in NO_INSTALLATIONS:
        broken = {k: v for k, v in payload.items() if k != "installation"} | missing
        with pytest.raises(MalformedPayload, match="'installation'"):
            route(event, broken, SETTINGS)


def test_the_actionable_cases_cover_every_handled_event() -> None:
    """A new handler needs a case in tests.support.actionable_deliveries, so A6 covers it too."""
    assert {event for event, _ in actionable_deliveries().values()} == handled_events()


# -- check_run ------------------------------------------------------------------------------------


def _failed_check(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(app_fixture("check_run.completed.1.json"))
    payload["check_run"].update(changes)
    return payload


def test_failed_check_run_carries_what_the_worker_needs() -> None:
    payload = _failed_check()
    payload["installation"] = {"id": 77, "node_id": "x"}
    [job] = _route("check_run.completed.1.json", payload).jobs
    assert job.args == {
        "repo_id": 186853002,
        "repo": "Codertocat/Hello-World",
        "installation_id": 77,
        "check_run_id": 128620228,
        "check_name": "Octocoders-linter",
        "check_app": "github-actions",
        "head_sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "head_branch": "changes",
        "conclusion": "failure",
        "details_url": "https://octocoders.io",
        "pull_requests": [2],
    }


def test_timed_out_counts_as_a_failure() -> None:
    [job] = _route("check_run.completed.1.json", _failed_check(conclusion="timed_out")).jobs
    assert job.args["conclusion"] == "timed_out"


@pytest.mark.parametrize(
    "conclusion", ["success", "neutral", "cancelled", "skipped", "action_required", None]
)
def test_other_conclusions_are_ignored(conclusion: str | None) -> None:
    routed = _route("check_run.completed.1.json", _failed_check(conclusion=conclusion))
    assert routed.jobs == []
    assert "not a failure" in (routed.ignored or "")


def test_our_own_check_runs_are_ignored() -> None:
    payload = _failed_check()
    payload["check_run"]["app"]["id"] = APP_ID
    assert _route("check_run.completed.1.json", payload).ignored == "check run belongs to autofix itself"


@pytest.mark.parametrize("conclusion", ["failure", "success"])
def test_ci_on_our_own_branches_is_followed_never_fixed(conclusion: str) -> None:
    payload = _failed_check(conclusion=conclusion)
    payload["check_run"]["check_suite"]["head_branch"] = "autofix/v1-0123456789abcdef"
    [job] = _route("check_run.completed.1.json", payload).jobs
    assert job.function == "record_bot_check"
    assert (job.args["conclusion"], job.args["head_branch"]) == (conclusion, "autofix/v1-0123456789abcdef")
    routed = _route("check_run.completed.1.json", payload, autofix_branch_prefix="bot/")
    assert [j.function for j in routed.jobs] == (["fix_check_run"] if conclusion == "failure" else [])


def test_our_sandbox_workflow_checks_are_ignored() -> None:
    payload = _failed_check(name="autofix-sandbox / candidates (2)")
    assert "sandbox" in (_route("check_run.completed.1.json", payload).ignored or "")


def test_same_failure_gives_the_same_job_id_and_another_check_another() -> None:
    first = _route("check_run.completed.1.json", _failed_check(id=1)).jobs[0].job_id
    rerun = _route("check_run.completed.1.json", _failed_check(id=2)).jobs[0].job_id
    other = _route("check_run.completed.1.json", _failed_check(id=3, name="lint")).jobs[0].job_id
    assert first == rerun != other


# -- issues.labeled -------------------------------------------------------------------------------


def _labeled(label: str = "autofix", sender_type: str = "User") -> dict[str, Any]:
    payload = copy.deepcopy(app_fixture("issues.labeled.1.json"))
    payload["label"]["name"] = label
    payload["sender"]["type"] = sender_type
    return payload


@pytest.mark.parametrize("label", ["autofix", "AutoFix"])
def test_trigger_label_makes_an_issue_job(label: str) -> None:
    payload = _labeled(label)
    [job] = _route("issues.labeled.1.json", payload).jobs
    issue = payload["issue"]
    assert job.function == names.FIX_ISSUE
    assert job.job_id == f"issue:{payload['repository']['id']}:{issue['number']}:{issue['updated_at']}"
    assert job.args["issue_number"] == issue["number"]
    assert job.args["sender"] == payload["sender"]["login"]


def test_configured_label_is_honoured() -> None:
    assert _route("issues.labeled.1.json", _labeled("bot-fix"), autofix_label="bot-fix").jobs
    assert not _route("issues.labeled.1.json", _labeled("autofix"), autofix_label="bot-fix").jobs


def test_label_from_a_bot_is_ignored() -> None:
    routed = _route("issues.labeled.1.json", _labeled(sender_type="Bot"))
    assert routed.ignored == "label was added by a bot"


def test_relabelling_later_is_a_new_job_but_a_redelivery_is_not() -> None:
    a, b = _labeled(), _labeled()
    b["issue"]["updated_at"] = "2030-01-01T00:00:00Z"
    ids = [_route("issues.labeled.1.json", p).jobs[0].job_id for p in (a, _labeled(), b)]
    assert ids[0] == ids[1] != ids[2]


# -- issue_comment.created -------------------------------------------------------------------------


def _comment(body: str, fixture: str = "issue_comment.created.1.json", sender_type: str = "User") -> Any:
    payload = copy.deepcopy(app_fixture(fixture))
    payload["comment"]["body"] = body
    payload["sender"]["type"] = sender_type
    return _route(fixture, payload)


def test_command_on_an_issue() -> None:
    [job] = _comment("/autofix retry").jobs
    payload = app_fixture("issue_comment.created.1.json")
    assert job.function == names.RUN_COMMAND
    assert job.job_id == f"cmd:{payload['repository']['id']}:{payload['comment']['id']}"
    assert job.args["command"] == {
        "verb": "retry",
        "args": [],
        "error": None,
        "raw": "/autofix retry",
        "text": "",
    }
    assert job.args["is_pull_request"] is False
    assert job.args["author"] == payload["comment"]["user"]["login"]


def test_command_on_a_pull_request() -> None:
    [job] = _comment("/autofix", fixture="issue_comment.created.2.json").jobs
    assert job.args["is_pull_request"] is True
    assert job.args["command"]["verb"] == "fix"


def test_comment_from_a_bot_is_ignored_even_with_a_command() -> None:
    assert _comment("/autofix", sender_type="Bot").ignored == "comment was written by a bot"


def test_edited_comment_with_a_command_is_ignored() -> None:
    payload = copy.deepcopy(app_fixture("issue_comment.edited.1.json"))
    payload["comment"]["body"] = "/autofix"
    assert _route("issue_comment.edited.1.json", payload).jobs == []


# -- workflow_run, pull_request, installation ------------------------------------------------------


@pytest.mark.parametrize(
    "path", [".github/workflows/autofix-sandbox.yml", ".github/workflows/autofix-sandbox.yml@refs/heads/main"]
)
def test_sandbox_workflow_completion_wakes_its_job(path: str) -> None:
    payload = copy.deepcopy(app_fixture("workflow_run.completed.2.json"))
    payload["workflow_run"]["path"] = path
    [job] = _route("workflow_run.completed.2.json", payload).jobs
    run = payload["workflow_run"]
    assert job.function == names.SANDBOX_FINISHED
    assert job.job_id == f"sandbox:{payload['repository']['id']}:{run['id']}:{run['run_attempt']}"
    assert job.args["conclusion"] == run["conclusion"]


def _closed_pr(head: str, login: str, merged: bool) -> dict[str, Any]:
    payload = copy.deepcopy(app_fixture("pull_request.closed.3.json"))
    payload["pull_request"]["head"]["ref"] = head
    payload["pull_request"]["user"]["login"] = login
    payload["pull_request"]["merged"] = merged
    return payload


@pytest.mark.parametrize("merged", [True, False])
def test_our_closed_pull_request_records_the_outcome(merged: bool) -> None:
    payload = _closed_pr("autofix/check-1", "autofix-test[bot]", merged)
    [job] = _route("pull_request.closed.3.json", payload).jobs
    assert job.function == names.RECORD_PR_OUTCOME
    assert job.args["merged"] is merged
    assert job.job_id.startswith(
        f"outcome:{payload['repository']['id']}:{payload['pull_request']['number']}:"
    )


def test_someone_elses_pr_on_a_lookalike_branch_is_not_ours() -> None:
    payload = _closed_pr("autofix/check-1", "mallory", True)
    assert _route("pull_request.closed.3.json", payload).ignored == "pull request was not opened by autofix"


def test_installation_changes_get_distinct_ids() -> None:
    added = app_fixture("installation_repositories.added.1.json")
    other = copy.deepcopy(added)
    other["repositories_added"][0]["full_name"] = "octo-org/other"
    ids = {_route("installation_repositories.added.1.json", p).jobs[0].job_id for p in (added, other)}
    assert len(ids) == 2


# -- malformed payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("check_run.completed.1.json", lambda p: p.pop("repository")),
        ("check_run.completed.1.json", lambda p: p["check_run"].pop("head_sha")),
        ("check_run.completed.1.json", lambda p: p["check_run"].update(pull_requests="nope")),
        ("issue_comment.created.1.json", lambda p: p["comment"].update(id="12", body="/autofix")),
        ("installation.created.1.json", lambda p: p.update(installation=[])),
    ],
)
def test_missing_fields_raise_malformed_payload(name: str, mutate: Any) -> None:
    payload = copy.deepcopy(app_fixture(name))
    mutate(payload)
    with pytest.raises(MalformedPayload):
        _route(name, payload)


def test_unknown_event_is_ignored_with_its_name() -> None:
    assert route("merge_group", {}, SETTINGS).ignored == "event 'merge_group' is not one autofix acts on"


@pytest.mark.parametrize("action", [None, [], {"x": 1}, 3, "COMPLETED"])
def test_an_action_of_the_wrong_kind_is_ignored_not_an_error(action: object) -> None:
    payload = _failed_check()
    payload["action"] = action
    routed = _route("check_run.completed.1.json", payload)
    assert routed.jobs == []
    assert "autofix acts on check_run.completed only" in (routed.ignored or "")


def test_a_revert_pushed_to_the_default_branch_is_routed_with_the_reverted_shas() -> None:
    payload = copy.deepcopy(app_fixture("push.none.4.json"))
    reverted = "ab" * 20
    payload["commits"][0]["message"] = f'Revert "fix(stats): x"\n\nThis reverts commit {reverted}.\n'
    [job] = _route("push.none.4.json", payload).jobs
    assert job.function == "record_revert"
    assert job.args["reverted"] == [reverted]
    assert job.job_id == f"revert:{payload['repository']['id']}:{payload['after']}"
