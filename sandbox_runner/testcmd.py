"""The test command: is it pytest (then add `--junitxml`), and what its output says about the tests.

Standard library only, pure.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator

_SHELL = set("|;&<>`$(){}\n")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTEST = re.compile(r"^(?:\S*/)?(?:pytest|py\.test)(?:-3)?$")
_PYTHON = re.compile(r"^(?:\S*/)?python(?:3(?:\.\d+)?)?$")
_LAUNCHERS = (["uv", "run"], ["poetry", "run"], ["pdm", "run"], ["pipenv", "run"], ["hatch", "run"])
_COLLECTED = re.compile(rb"\bcollected (\d+) items?\b")


def is_pytest(command: str) -> bool:
    """True for a plain pytest invocation (`pytest …`, `python -m pytest …`, `uv run pytest …`)."""
    if any(c in _SHELL for c in command):
        return False  # a pipeline or a script: where to put the flag is anyone's guess
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    for launcher in _LAUNCHERS:
        if words[: len(launcher)] == launcher:
            words = words[len(launcher) :]
    if not words:
        return False
    if _PYTEST.match(words[0]):
        return True
    return bool(_PYTHON.match(words[0])) and words[1:3] == ["-m", "pytest"]


def with_junit(command: str, junit_path: str) -> tuple[str, bool]:
    """`command` with `--junitxml` added when it is pytest; and whether it was added."""
    if not is_pytest(command):
        return command, False
    return f"{command} --junitxml={shlex.quote(junit_path)}", True


def with_trace(command: str) -> tuple[str, bool]:
    """`command` loading the run-time tracer (`autofix_trace`) when it is pytest; and whether it does."""
    if not is_pytest(command):
        return command, False
    return f"{command} -p autofix_trace", True


class CollectedCounter:
    """Passes lines through, noting pytest's `collected N items` on the way."""

    def __init__(self) -> None:
        self.collected: int | None = None

    def watch(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        for line in lines:
            if self.collected is None and b"collected" in line:
                m = _COLLECTED.search(line)
                if m:
                    self.collected = int(m.group(1))
            yield line
