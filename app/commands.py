"""Slash commands: `/autofix [verb] [args]` at the start of a comment, parsed into a typed value.

Pure. Who may run a command is decided in the worker, which can ask GitHub about permissions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Verb = Literal["fix", "retry", "stop", "explain", "help"]
VERBS: tuple[Verb, ...] = ("fix", "retry", "stop", "explain", "help")
TRIGGER = "/autofix"
MAX_ARGS_CHARS = 500

_COMMAND = re.compile(r"/autofix(?![\w-])[ \t]*(?P<rest>[^\r\n]*)")


@dataclass(frozen=True)
class Command:
    """`verb` is what to do; `error` says why the text was not understood (the verb is then help)."""

    verb: Verb
    args: tuple[str, ...] = ()
    error: str | None = None
    raw: str = field(default="", compare=False)

    def to_json(self) -> dict[str, object]:
        return {"verb": self.verb, "args": list(self.args), "error": self.error, "raw": self.raw}


def is_command(body: str) -> bool:
    """Does this comment start with the trigger (after leading whitespace)?"""
    return _COMMAND.match(body.lstrip()) is not None


def parse_command(body: str) -> Command | None:
    """The command at the start of `body`, or None when the comment is not addressed to us."""
    m = _COMMAND.match(body.lstrip())
    if m is None:
        return None
    raw = m.group(0).strip()[: len(TRIGGER) + MAX_ARGS_CHARS]
    words = m.group("rest")[:MAX_ARGS_CHARS].split()
    if not words:
        return Command("fix", raw=raw)
    verb, args = words[0].lower(), tuple(words[1:])
    if verb not in VERBS:
        return Command("help", error=f"unknown command {words[0]!r}", raw=raw)
    return Command(verb, args, raw=raw)
