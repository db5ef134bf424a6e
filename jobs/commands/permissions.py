"""Who may run a command: a pure decision over the commenter's repository permission.

The permission is asked from GitHub at run time (`fetch_permission`), not read from the webhook's
`author_association`, which misreports private organisation members. The default is write; the
repo config can require more for all commands (`commands.permission`) or one (`commands.require`),
and less only for commands that change nothing (`help`, `status`, `explain`): on a public repository
everyone has read, so a command that spends money or writes code needs write whatever the config
says, and `budget` (the owner's money) needs maintain.

An issue job asks again when it starts (a permission can be taken away while the job waits): the
person who queued it must still have what the trigger needs (`needed_to_trigger`). The label needs
triage, what GitHub asks of anyone who applies a label; a command, what the command needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.repo_config import RepoConfig

LEVELS = ("none", "read", "triage", "write", "maintain", "admin")
READ_ONLY = frozenset({"help", "status", "explain"})
FLOORS = {"budget": "maintain"}  # the least a command needs, whatever the config says
LABEL = "label"  # not a command: the trigger label on an issue
LABEL_NEEDS = "triage"  # GitHub lets triage and up apply labels


@dataclass(frozen=True)
class Allowed:
    ok: bool
    needed: str  # the least permission the command needs here
    have: str


def rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def needed_for(verb: str, config: RepoConfig) -> str:
    configured = config.permission_for(verb)
    floor = FLOORS.get(verb, "read" if verb in READ_ONLY else "write")
    return configured if rank(configured) >= rank(floor) else floor


def decide_permission(verb: str, permission: str, config: RepoConfig, *, is_bot: bool = False) -> Allowed:
    """May someone with `permission` run `verb` here? Bots never may (no loops between bots)."""
    needed = needed_for(verb, config)
    if is_bot:
        return Allowed(False, needed, "bot")
    return Allowed(rank(permission) >= rank(needed), needed, permission)


def needed_to_trigger(trigger: str, config: RepoConfig) -> str:
    """What whoever started an issue job needs when it runs: `trigger` is `LABEL` or the command's verb."""
    return LABEL_NEEDS if trigger == LABEL else needed_for(trigger, config)


def can_write(permission: str) -> bool:
    """Write access or more: someone whose words the repository already trusts with its code."""
    return rank(permission) >= rank("write")
