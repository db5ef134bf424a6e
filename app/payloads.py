"""Typed reads from webhook JSON. Pure.

Payloads are routed on raw JSON rather than githubkit models: the models are strict and lag behind
GitHub (new actions and fields fail validation), while routing needs a dozen fields. A missing or
mistyped field raises MalformedPayload naming its path, which the endpoint answers with 400.
"""

from __future__ import annotations

from typing import Any


class MalformedPayload(ValueError):
    """A field routing needs is missing or has the wrong type."""


def get_dict(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, dict):
        raise MalformedPayload(f"payload field {key!r} is missing or not an object")
    return value


def get_int(obj: Any, key: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPayload(f"payload field {key!r} is missing or not an integer")
    return value


def get_str(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise MalformedPayload(f"payload field {key!r} is missing or not a string")
    return value


def opt_str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def get_list(obj: Any, key: str) -> list[Any]:
    """An optional list field: missing or null is empty, any other non-list is malformed."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"payload field {key!r} is not a list")
    return value
