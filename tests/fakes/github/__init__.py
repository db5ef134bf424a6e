"""A local, stateful GitHub for integration tests (and by hand): REST, git over smart HTTP, webhooks.

`GitHubState` holds what GitHub would know; `build_app(state)` serves it (Starlette); `Sim` drives
changes the way people and CI would and sends the signed webhooks GitHub would send. Answers follow
api.github.com: authentication rules, status codes, error bodies (`message`, `documentation_url`,
`status`), headers (`x-github-request-id`, `x-ratelimit-*`), and the JSON shapes githubkit's strict
models require.

Modules: `state` (dataclasses), `auth` (JWT, installation tokens), `http` (answers, rate limits
that count down to a primary limit), `shapes`/`*shapes` (pure renderers), `api_*` (routes per area),
`pulls` (pull request state changes), `faults` + `gate` (fault injection per route), `workflows` +
`actionruns` (Actions runs, jobs as check runs, logs and artifacts behind blob redirects), `server`.
"""

from tests.fakes.github.auth import (
    BAD_CREDENTIALS,
    JWT_EXP_TOO_FAR,
    JWT_EXPIRED,
    JWT_IAT_INVALID,
    JWT_UNDECODABLE,
    REQUIRES_AUTHENTICATION,
    generate_private_key,
    public_key_of,
)
from tests.fakes.github.errors import DOCS_URL, ApiError, error_body
from tests.fakes.github.server import build_app
from tests.fakes.github.state import App, GitHubState, Installation, Repo, Token, User

__all__ = [
    "BAD_CREDENTIALS",
    "DOCS_URL",
    "JWT_EXPIRED",
    "JWT_EXP_TOO_FAR",
    "JWT_IAT_INVALID",
    "JWT_UNDECODABLE",
    "REQUIRES_AUTHENTICATION",
    "ApiError",
    "App",
    "GitHubState",
    "Installation",
    "Repo",
    "Token",
    "User",
    "build_app",
    "error_body",
    "generate_private_key",
    "public_key_of",
]
