"""Read and validate a repository's `.github/autofix.yml` against `app.config_schema.SCHEMA`.

`parse_repo_config(text)` is pure: it returns a `RepoConfig` with every key filled in, or raises
`RepoConfigError` listing every problem with its key, line and what is allowed. Nothing is ever
half-applied, and nothing falls back silently to a default when the file says something else.

Values are read from the YAML node tree rather than from PyYAML's constructed objects, so YAML 1.1's
surprises do not leak in: `branches: [1.10]` stays the string "1.10", `on`/`yes` are not booleans,
and a key given twice is an error instead of "the last one wins".
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

from app.config_schema import BY_KEY, COMMANDS, SECTIONS, Field, defaults, describe

MAX_BYTES = 64_000
_TRUE, _FALSE = "true", "false"
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


@dataclass(frozen=True)
class ConfigProblem:
    key: str  # dotted path, "" for the file as a whole
    line: int | None  # 1-based
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        key = f"`{self.key}`: " if self.key else ""
        return f"{where}{key}{self.message}"


class RepoConfigError(ValueError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class RepoConfig:
    values: dict[str, Any] = field(default_factory=defaults)
    present: bool = False  # whether the repository has the file at all

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def watches_check(self, name: str) -> bool:
        return matches_any(self.values["checks"], name)

    def watches_app(self, slug: str) -> bool:
        return matches_any(self.values["check_apps"], slug)

    def watches_branch(self, branch: str) -> bool:
        return matches_any(self.values["branches"], branch)

    def permission_for(self, command: str) -> str:
        return str(self.values["commands.require"].get(command, self.values["commands.permission"]))


def matches_any(globs: Iterable[str], name: str) -> bool:
    """fnmatch semantics, case-sensitive: `*` matches any run of characters, `/` included."""
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def parse_repo_config(text: str | None) -> RepoConfig:
    """The repository's configuration: the defaults when there is no file (None) or it is empty."""
    if text is None:
        return RepoConfig()
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise RepoConfigError([ConfigProblem("", None, f"the file is over {MAX_BYTES // 1000} kB")])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        reason = getattr(e, "problem", None) or str(e)
        raise RepoConfigError(
            [ConfigProblem("", mark.line + 1 if mark else None, f"not valid YAML: {reason}")]
        ) from None
    values = defaults()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return RepoConfig(values, present=True)
    problems: list[ConfigProblem] = []
    if not isinstance(root, yaml.MappingNode):
        problems.append(ConfigProblem("", _line(root), "the file must be a mapping of keys to values"))
    else:
        _read_mapping(root, "", values, problems)
    if problems:
        raise RepoConfigError(problems)
    return RepoConfig(values, present=True)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _read_mapping(
    node: yaml.MappingNode, prefix: str, values: dict[str, Any], problems: list[ConfigProblem]
) -> None:
    seen: set[str] = set()
    for key_node, value_node in node.value:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        key = prefix + name
        if name in seen:
            problems.append(ConfigProblem(key, _line(key_node), "given twice"))
            continue
        seen.add(name)
        if not prefix and name in SECTIONS and name not in BY_KEY:
            if isinstance(value_node, yaml.MappingNode):
                _read_mapping(value_node, key + ".", values, problems)
            else:
                problems.append(ConfigProblem(key, _line(value_node), "must be a mapping of keys to values"))
        elif key in BY_KEY:
            try:
                values[key] = _convert(BY_KEY[key], value_node)
            except ValueError as e:
                problems.append(ConfigProblem(key, _line(value_node), str(e)))
        else:
            problems.append(ConfigProblem(key, _line(key_node), _unknown(key, prefix)))


def _unknown(key: str, prefix: str) -> str:
    known = [k.removeprefix(prefix) for k in BY_KEY if k.startswith(prefix)] + (
        list(SECTIONS) if not prefix else []
    )
    close = difflib.get_close_matches(key.removeprefix(prefix), known, n=1)
    hint = f"; did you mean `{prefix}{close[0]}`?" if close else ""
    return f"unknown key{hint}"


def _convert(f: Field, node: yaml.Node) -> Any:
    """The value of `node` as field `f` wants it, or ValueError saying what is allowed."""
    expected = f"expected {describe(f)}"
    if node.tag not in _PLAIN_TAGS:
        raise ValueError(f"YAML tags such as {node.tag.removeprefix('tag:yaml.org,2002:')!r} are not allowed")
    if f.kind in ("globs", "strs"):
        if isinstance(node, yaml.ScalarNode) and node.value and node.tag != "tag:yaml.org,2002:null":
            return [node.value]  # a single string for a one-item list
        if not isinstance(node, yaml.SequenceNode) or not all(
            isinstance(n, yaml.ScalarNode) and n.value for n in node.value
        ):
            raise ValueError(f"{expected}, e.g. ['main', 'release/*']")
        return [str(n.value) for n in node.value]
    if f.kind == "permissions":
        return _permissions(f, node, expected)
    if not isinstance(node, yaml.ScalarNode):
        raise ValueError(expected)
    text = str(node.value)
    if node.tag == "tag:yaml.org,2002:null":
        if f.kind == "str?":
            return None
        raise ValueError(f"{expected}, not empty")
    if f.kind in ("str", "str?"):
        if not text.strip() and f.kind == "str":
            raise ValueError(f"{expected}, not empty")
        return text or None
    if f.kind == "bool":
        if text.lower() not in (_TRUE, _FALSE):
            raise ValueError(f"{expected}, got {text!r}")
        return text.lower() == _TRUE
    if f.kind == "choice":
        if text not in f.choices:
            raise ValueError(f"{expected}, got {text!r}")
        return text
    return _number(f, text, expected)


def _number(f: Field, text: str, expected: str) -> int | float:
    try:
        number: int | float = int(text) if f.kind == "int" else float(text)
    except ValueError:
        raise ValueError(f"{expected}, got {text!r}") from None
    if not math.isfinite(number) or (f.minimum is not None and number < f.minimum):
        raise ValueError(f"{expected}, got {text}")
    if f.maximum is not None and number > f.maximum:
        raise ValueError(f"{expected}, got {text}")
    return number


def _permissions(f: Field, node: yaml.Node, expected: str) -> dict[str, str]:
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(expected)
    out: dict[str, str] = {}
    for k, v in node.value:
        command, level = str(k.value), str(getattr(v, "value", ""))
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}; commands are {', '.join(COMMANDS)}")
        if level not in f.choices:
            raise ValueError(f"{command}: expected one of {', '.join(f.choices)}, got {level!r}")
        out[command] = level
    return out
