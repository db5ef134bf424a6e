"""app/github/scopes.py: what an installation token asks GitHub for. Pure, no doubles."""

from __future__ import annotations

import pytest

from app.github.scopes import build_mint_body, build_scope, build_token_permissions, build_within

WANTED = {"checks": "write", "contents": "write", "issues": "write", "metadata": "read"}


@pytest.mark.parametrize(
    ("granted", "within"),
    [
        (WANTED, WANTED),
        ({**WANTED, "administration": "write", "workflows": "write"}, WANTED),  # never more than wanted
        ({**WANTED, "contents": "admin"}, WANTED),  # nor a higher level
        ({**WANTED, "contents": "read"}, {**WANTED, "contents": "read"}),  # lowered to what is held
        ({"checks": "write", "metadata": "read"}, {"checks": "write", "metadata": "read"}),  # dropped
        ({"metadata": "none"}, {}),
        ({}, {}),
    ],
)
def test_a_token_asks_for_what_is_both_wanted_and_granted(
    granted: dict[str, str], within: dict[str, str]
) -> None:
    assert build_within(WANTED, granted) == within


def test_the_manifests_permissions_without_the_dashboards_sign_in() -> None:
    manifest = {"default_permissions": {"members": "read", "issues": "write", "metadata": "read"}}
    assert build_token_permissions(manifest) == {"issues": "write", "metadata": "read"}
    assert "members" not in build_token_permissions()  # the real github_app.yml
    assert build_token_permissions()["contents"] == "write"


def test_a_repository_scope_is_its_own_cache_field_and_mint_body() -> None:
    assert len({build_scope(None), build_scope(1), build_scope(2)}) == 3
    assert build_mint_body(WANTED, 7) == {"permissions": WANTED, "repository_ids": [7]}
    assert build_mint_body(WANTED, None) == {"permissions": WANTED}
