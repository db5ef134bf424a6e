"""What an installation token may do: the permissions github_app.yml asks for, never more. Pure.

Without a body, GitHub mints an installation token with every permission the installation granted,
for every repository it covers. So every mint names `permissions`, taken from the App's manifest (the
one list, kept honest by tests/test_manifest.py): a token never carries more than this deployment
declares, even when the installation granted more (the App was widened on GitHub). A job's token
also names its one repository (`repository_ids`), so a job can touch no other.

An installation may also hold less than the manifest asks for (a new permission it has not accepted
yet): GitHub then refuses the whole mint with 422, and the client asks again for what
`build_within` leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.setup.manifest import load_manifest

LEVELS = {"read": 1, "write": 2, "admin": 3}
# asked for by the manifest for the dashboard's sign-in by organisation, which calls GitHub with the
# signed-in user's own token: no installation token needs it
USER_TOKEN_ONLY = frozenset({"members"})
APP_SCOPE = "installation"  # the field of a token for every repository of the installation


def build_token_permissions(manifest: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The manifest's `default_permissions` that installation tokens use."""
    asked = (manifest if manifest is not None else load_manifest()).get("default_permissions") or {}
    return {str(name): str(level) for name, level in sorted(asked.items()) if name not in USER_TOKEN_ONLY}


def build_within(wanted: Mapping[str, str], granted: Mapping[str, Any]) -> dict[str, str]:
    """`wanted`, each permission lowered to the level `granted` (an installation's) allows; a
    permission the installation lacks is left out."""
    names = {rank: name for name, rank in LEVELS.items()}
    out = {}
    for name, level in wanted.items():
        rank = min(LEVELS.get(level, 0), LEVELS.get(str(granted.get(name)), 0))
        if rank:
            out[name] = names[rank]
    return out


def build_mint_body(permissions: Mapping[str, str], repository_id: int | None) -> dict[str, Any]:
    """The body of `POST /app/installations/{id}/access_tokens`."""
    body: dict[str, Any] = {"permissions": dict(permissions)}
    if repository_id is not None:
        body["repository_ids"] = [repository_id]
    return body


def build_scope(repository_id: int | None) -> str:
    """The token cache field: one repository's token never serves another."""
    return APP_SCOPE if repository_id is None else f"repo:{repository_id}"
