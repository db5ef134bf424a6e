"""Reading files and the repo config through the contents API."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import respx

from app.github.client import Installation
from app.github.contents import CONFIG_PATH, fetch_default_branch, parse_file, read_file, read_repo_config
from app.github.errors import Forbidden, GitHubError, NotFound, RateLimited
from tests.github_support import PERMISSION_403, error
from tests.support import fixture_json


def repository(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("issues.opened.1.json")["repository"]
    return data | overrides


def content(path: str, text: str, **overrides: Any) -> dict[str, Any]:
    """A file as GET /contents returns it: base64 wrapped at 60 columns, like GitHub's."""
    encoded = base64.b64encode(text.encode()).decode()
    wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
    url = f"https://api.github.com/repos/o/r/contents/{path}?ref=main"
    data = {
        "type": "file", "encoding": "base64", "size": len(text.encode()), "name": path.rsplit("/", 1)[-1],
        "path": path, "content": wrapped, "sha": "3d21ec53a331a6f037a91c368710b99387d012c1", "url": url,
        "git_url": "https://api.github.com/repos/o/r/git/blobs/3d21ec53a331a6f037a91c368710b99387d012c1",
        "html_url": f"https://github.com/o/r/blob/main/{path}",
        "download_url": f"https://raw.githubusercontent.com/o/r/main/{path}",
        "_links": {"self": url, "git": "https://api.github.com/repos/o/r/git/blobs/3d21", "html": "x"},
    }  # fmt: skip
    return data | overrides


async def test_default_branch(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r").respond(200, json=repository(default_branch="trunk"))
    assert await fetch_default_branch(inst, "o", "r") == "trunk"


async def test_read_file_decodes_base64_at_a_ref(inst: Installation, api: respx.MockRouter) -> None:
    text = "def test_add():\n    assert add(1, 2) == 3  # ünïcode\n" * 5
    route = api.get("/repos/o/r/contents/src/my%20dir/test_x.py").respond(
        200, json=content("src/my dir/test_x.py", text)
    )
    assert await read_file(inst, "o", "r", "src/my dir/test_x.py", ref="abc123") == text
    assert route.calls.last.request.url.params["ref"] == "abc123"


async def test_a_missing_file_is_none(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/contents/nope.py").mock(return_value=error(404, "Not Found"))
    assert await read_file(inst, "o", "r", "nope.py") is None


async def test_a_directory_is_not_a_file(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/contents/src").respond(200, json=[content("src/a.py", "x") | {"type": "file"}])
    assert await read_file(inst, "o", "r", "src") is None


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (error(403, PERMISSION_403), Forbidden),
        (error(429, "Too many", **{"retry-after": "5"}), RateLimited),
    ],
)
async def test_read_file_errors_other_than_404_propagate(
    inst: Installation, api: respx.MockRouter, response: httpx.Response, kind: type[Exception]
) -> None:
    api.get("/repos/o/r/contents/a.py").mock(return_value=response)
    with pytest.raises(kind):
        await read_file(inst, "o", "r", "a.py")


def test_parse_file_caps_size_and_skips_non_files() -> None:
    assert parse_file(content("a", "x" * 10), "a", max_bytes=10) == "x" * 10
    with pytest.raises(GitHubError, match="over the 9 byte cap"):
        parse_file(content("a", "x" * 10), "a", max_bytes=9)
    big = content("a", "", size=5_000_000, encoding="none")  # GitHub's answer for files over 1 MB
    with pytest.raises(GitHubError, match="over the"):
        parse_file(big, "a", max_bytes=10_000_000)
    assert parse_file(content("l", "x", type="symlink", target="/etc/passwd"), "l", 100) is None
    assert parse_file(content("s", "", type="submodule"), "s", 100) is None


async def test_repo_config_comes_from_the_default_branch(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r").respond(200, json=repository(default_branch="develop"))
    route = api.get(f"/repos/o/r/contents/{CONFIG_PATH}").respond(
        200, json=content(CONFIG_PATH, "triggers:\n  checks: true\n")
    )
    assert await read_repo_config(inst, "o", "r") == "triggers:\n  checks: true\n"
    assert route.calls.last.request.url.params["ref"] == "develop"


async def test_no_repo_config_is_none(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r").respond(200, json=repository())
    api.get(f"/repos/o/r/contents/{CONFIG_PATH}").mock(return_value=error(404, "Not Found"))
    assert await read_repo_config(inst, "o", "r") is None


async def test_repo_config_of_a_repo_gone_is_not_found(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r").mock(return_value=error(404, "Not Found"))
    with pytest.raises(NotFound):
        await read_repo_config(inst, "o", "r")
