"""Slash commands: `/autofix [verb] [args]` on the first line of a comment, parsed into a typed value.

Pure. Who may run a command is decided in the worker, which asks GitHub about permissions
(jobs/commands/permissions.py).

The first non-blank line must start with `/autofix`: a quote (`> /autofix retry`), a fenced or
indented code block, or a mention in the middle of a sentence is not a command. Free-text verbs
(`fix`, `retry`, `revise`) take the rest of the first line and every line after it as the
maintainer's words. `/autofix` followed by a word that is not a verb is an unknown command: it gets
the help table with an error, never a guess.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Literal

Verb = Literal[
    "fix", "retry", "revise", "apply", "undo", "explain", "stop", "ignore", "status", "budget", "help"
]
VERBS: tuple[Verb, ...] = (
    "fix", "retry", "revise", "apply", "undo", "explain", "stop", "ignore", "status", "budget", "help"
)  # fmt: skip
FREE_TEXT: frozenset[str] = frozenset({"fix", "retry", "revise"})  # take the maintainer's words
NEEDS_TEXT: frozenset[str] = frozenset({"revise"})
TRIGGER = "/autofix"
MAX_ARGS_CHARS = 500  # of the first line
MAX_TEXT_CHARS = 4000  # of the maintainer's words
MAX_BUDGET_DOLLARS = 1000.0

_COMMAND = re.compile(r"/autofix(?![\w-])[ \t]*(?P<rest>[^\r\n]*)(?:\r?\n(?P<more>.*))?", re.S)
_DOLLARS = re.compile(r"\$?(?P<n>\d{1,7}(?:\.\d{1,2})?)\$?")


@dataclass(frozen=True)
class Command:
    """`verb` is what to do; `error` says why the text was not understood (the verb is then help).

    `args` are the words after the verb on the first line; `text` is the maintainer's words for
    free-text verbs (the rest of the first line and the lines after it), else "".
    """

    verb: Verb
    args: tuple[str, ...] = ()
    error: str | None = None
    raw: str = field(default="", compare=False)
    text: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "verb": self.verb,
            "args": list(self.args),
            "error": self.error,
            "raw": self.raw,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Command:
        verb = str(data.get("verb") or "help")
        args = data.get("args")
        return cls(
            verb if verb in VERBS else "help",
            tuple(str(a) for a in args) if isinstance(args, list) else (),
            str(data["error"]) if data.get("error") else None,
            str(data.get("raw") or ""),
            str(data.get("text") or ""),
        )

    @property
    def dollars(self) -> float:
        """The amount of a valid `budget` command."""
        return parse_dollars(self.args[0]) or 0.0 if self.args else 0.0


def _first_line(body: str) -> tuple[str, str] | None:
    """The first non-blank line (without its indentation) and what follows; None in a code block."""
    lines = body.lstrip("\ufeff").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if len(indent.expandtabs(4)) >= 4:  # an indented code block
            return None
        return line.lstrip(" \t"), "\n".join(lines[i + 1 :])
    return None


def is_command(body: str) -> bool:
    """Does this comment's first non-blank line start with the trigger?"""
    return parse_command(body) is not None


def parse_dollars(word: str) -> float | None:
    m = _DOLLARS.fullmatch(word.strip())
    if m is None:
        return None
    value = float(m.group("n"))
    return value if math.isfinite(value) and 0 < value <= MAX_BUDGET_DOLLARS else None


def _error(message: str, raw: str) -> Command:
    return Command("help", error=message, raw=raw)


def parse_command(body: str) -> Command | None:
    """The command at the start of `body`, or None when the comment is not addressed to us."""
    found = _first_line(body)
    if found is None:
        return None
    first, after = found
    m = _COMMAND.match(first)
    if m is None:
        return None
    raw = m.group(0).strip()[: len(TRIGGER) + 1 + MAX_ARGS_CHARS]
    rest = m.group("rest")[:MAX_ARGS_CHARS]
    words = rest.split()
    if not words:
        return Command("fix", raw=raw, text=after.strip()[:MAX_TEXT_CHARS])
    verb, args = words[0].lower(), tuple(words[1:])
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, VERBS, n=1, cutoff=0.75)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return _error(f"unknown command `{words[0][:40]}`{hint}", raw)
    if verb in FREE_TEXT:
        text = "\n".join(part for part in [*rest.split(None, 1)[1:], after] if part.strip())
        text = text.strip()[:MAX_TEXT_CHARS]
        if verb in NEEDS_TEXT and not text:
            return _error(f"`{verb}` needs your feedback: `/autofix {verb} <what to change>`", raw)
        return Command(verb, args, raw=raw, text=text)
    return _arguments(verb, args, raw)


def _arguments(verb: str, args: tuple[str, ...], raw: str) -> Command:
    if verb == "budget":
        if len(args) != 1 or parse_dollars(args[0]) is None:
            return _error(f"`budget` takes one amount in dollars, from 0.01 to {MAX_BUDGET_DOLLARS:.0f}: "
                          "`/autofix budget 5`", raw)  # fmt: skip
        return Command("budget", args, raw=raw)
    if verb == "help":
        return Command("help", args[:1], raw=raw)
    if args:
        return _error(f"`{verb}` takes no arguments", raw)
    return Command(verb, raw=raw)  # type: ignore[arg-type]
