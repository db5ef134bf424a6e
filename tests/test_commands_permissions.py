"""Who may run which command: the pure decision over every role, the bot account and the repo config."""

import pytest

from app.commands import VERBS
from app.repo_config import RepoConfig, parse_repo_config
from jobs.commands.permissions import LABEL, can_write, decide_permission, needed_for, needed_to_trigger

DEFAULT = parse_repo_config(None)
ROLES = ("none", "read", "triage", "write", "maintain", "admin")  # "none": an outside collaborator


def expected(verb: str, role: str) -> bool:
    if verb == "budget":
        return role in ("maintain", "admin")
    return role in ("write", "maintain", "admin")


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("role", ROLES)
def test_default_matrix(verb: str, role: str) -> None:
    allowed = decide_permission(verb, role, DEFAULT)
    assert allowed.ok is expected(verb, role)
    assert allowed.have == role


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("role", ["admin", "write", "none"])
def test_a_bot_account_is_never_allowed(verb: str, role: str) -> None:
    allowed = decide_permission(verb, role, DEFAULT, is_bot=True)
    assert not allowed.ok
    assert allowed.have == "bot"


def test_the_config_can_require_more_per_command() -> None:
    config = parse_repo_config("commands:\n  require: {retry: admin, status: maintain}\n")
    assert needed_for("retry", config) == "admin"
    assert not decide_permission("retry", "maintain", config).ok
    assert decide_permission("retry", "admin", config).ok
    assert not decide_permission("status", "write", config).ok
    assert decide_permission("stop", "write", config).ok  # others keep the default


def test_the_config_can_require_more_for_all() -> None:
    config = parse_repo_config("commands:\n  permission: maintain\n")
    assert [v for v in VERBS if decide_permission(v, "write", config).ok] == []
    assert all(decide_permission(v, "maintain", config).ok for v in VERBS)


def test_lowering_reaches_only_commands_that_change_nothing() -> None:
    """On a public repository everyone has read: `permission: read` opens help, status and explain,
    never what spends money or writes code, and budget keeps needing maintain."""
    config = parse_repo_config("commands:\n  permission: read\n  require: {budget: read}\n")
    opened = sorted(v for v in VERBS if decide_permission(v, "read", config).ok)
    assert opened == ["explain", "help", "status"]
    assert needed_for("budget", config) == "maintain"
    assert needed_for("retry", config) == "write"


def test_an_unknown_permission_counts_as_none() -> None:
    assert not decide_permission("help", "superuser", DEFAULT).ok


@pytest.mark.parametrize("config", [DEFAULT, parse_repo_config("commands:\n  permission: admin\n")])
def test_the_label_needs_triage_whatever_the_command_config(config: RepoConfig) -> None:
    """Applying a label takes triage on GitHub; an issue job re-checks the labeller against that."""
    assert needed_to_trigger(LABEL, config) == "triage"


def test_a_command_queued_job_needs_what_its_command_needs() -> None:
    config = parse_repo_config("commands:\n  require: {retry: maintain}\n")
    assert needed_to_trigger("retry", config) == "maintain"
    assert needed_to_trigger("fix", config) == "write"
    assert needed_to_trigger("revise", parse_repo_config("commands:\n  permission: read\n")) == "write"


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_write_access_is_write_maintain_or_admin(role: str) -> None:
    assert can_write(role) is (role in ("write", "maintain", "admin"))
