"""GitHub's error bodies and the one exception routes raise to produce them."""

from __future__ import annotations

from typing import Any

DOCS_URL = "https://docs.github.com/rest"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,  # objects, or plain strings as some endpoints send
        headers: dict[str, str] | None = None,
        documentation_url: str = DOCS_URL,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers
        self.documentation_url = documentation_url


def error_body(
    status: int, message: str, errors: list[Any] | None = None, documentation_url: str = DOCS_URL
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    if errors:
        body["errors"] = errors
    return body


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(message: str, resource: str = "", field_name: str = "", code: str = "custom") -> ApiError:
    """A 422 with GitHub's `errors` list ("Validation Failed" and friends)."""
    errors = [{"resource": resource, "code": code, "field": field_name, "message": message}]
    return ApiError(422, "Validation Failed", errors) if resource else ApiError(422, message)
