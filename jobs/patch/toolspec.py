"""The tools the model is offered (JSON schemas, provider-neutral) and the check of what it sends back.

The model's tool input is untrusted: every call is checked against its schema here, and a malformed one
becomes an error result the model can correct (the attempt goes on; the call still counts as a step).
"""

from __future__ import annotations

from typing import Any

from jobs.patch.provider import ToolCall

EDITOR: dict[str, Any] = {
    "name": "editor",
    "description": (
        "View and edit files in the repository checkout. Paths are relative to the repository root. "
        "view: a file with line numbers (optionally view_range [start, end], end -1 for the last line) "
        "or a directory listing. str_replace: replace old_str, which must occur exactly once, by new_str. "
        "insert: insert new_str after line insert_line (0 for the top). create: write a new file."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": ["view", "str_replace", "insert", "create"]},
            "path": {"type": "string"},
            "view_range": {"type": "array", "items": {"type": "integer"}},
            "old_str": {"type": "string"},
            "new_str": {"type": "string"},
            "insert_line": {"type": "integer"},
            "file_text": {"type": "string"},
        },
        "required": ["command", "path"],
    },
}
SEARCH: dict[str, Any] = {
    "name": "search",
    "description": (
        "Search the repository's files line by line with a Python regular expression. Optional: path "
        "(a directory to search under) and glob (e.g. '*.py' or 'src/**/*.py'). At most 50 matches."
    ),
    "input_schema": {
        "type": "object",
        "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}, "glob": {"type": "string"}},
        "required": ["pattern"],
    },
}
SUBMIT: dict[str, Any] = {
    "name": "submit_diagnosis",
    "description": (
        "Finish: submit the diagnosis of the patch you made with the editor. This is the only way to "
        "finish; call it once the edit is in place."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "root_cause": {"type": "string", "description": "what is wrong, in one or two sentences"},
            "where": {"type": "string", "description": "file:line or symbol of the fault"},
            "why_fix_is_right": {"type": "string"},
            "not_covered": {
                "type": "string",
                "description": "what the fix does not cover, or 'nothing known'",
            },
            "test_is_wrong": {
                "type": "boolean",
                "description": "true only if the failing test itself is wrong and you changed it; say why",
            },
        },
        "required": ["root_cause", "where", "why_fix_is_right", "not_covered"],
    },
}
TOOLS: list[dict[str, Any]] = [EDITOR, SEARCH, SUBMIT]
_BY_NAME = {t["name"]: t for t in TOOLS}
_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "boolean": bool, "array": list}
_NEEDS = {"str_replace": ("old_str",), "insert": ("insert_line", "new_str"), "create": ("file_text",)}


class ToolError(Exception):
    """A refused or failed tool call; the message goes back to the model as an error result."""


def validate_input(call: ToolCall) -> dict[str, Any]:
    """The call's arguments if they match the tool's schema; ToolError saying what is wrong otherwise."""
    tool = _BY_NAME.get(call.name)
    if tool is None:
        raise ToolError(f"unknown tool {call.name!r}; the tools are {', '.join(_BY_NAME)}")
    if call.input is None:
        raise ToolError(f"the input to {call.name} was not a JSON object: {call.raw[:200]!r}")
    schema: dict[str, Any] = tool["input_schema"]
    args = call.input
    for name in schema["required"]:
        if name not in args:
            raise ToolError(f"{call.name}: missing required field {name!r}")
    for name, value in args.items():
        spec: dict[str, Any] | None = schema["properties"].get(name)
        if spec is None:
            raise ToolError(f"{call.name}: unknown field {name!r}")
        wanted = _TYPES[spec["type"]]
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise ToolError(f"{call.name}: {name} must be {spec['type']}")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolError(f"{call.name}: {name} must be one of {', '.join(spec['enum'])}")
        if isinstance(value, list) and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ToolError(f"{call.name}: {name} must be a list of integers")
    for name in _NEEDS.get(str(args.get("command")), ()):
        if name not in args:
            raise ToolError(f"{call.name}: {args['command']} needs {name!r}")
    return args
