"""The settings reference (docs/settings.md), generated from the Settings model so it cannot drift:
`python -m app.settings_doc > docs/settings.md`. Every setting must have a line in SECTIONS (a test
checks it), so a new setting is documented when it is added.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from app.settings import Settings

SECTIONS: list[tuple[str, dict[str, str]]] = [
    (
        "The GitHub App",
        {
            "github_app_id": "The App's numeric id. Saved by the set-up flow of `autofix serve`.",
            "github_private_key": "The App's private key as PEM text (`\\n` escapes are accepted).",
            "github_private_key_path": "Or a path to the `.pem` file (keep one of the two).",
            "github_webhook_secret": "The webhook secret: deliveries signed with anything else get 401.",
            "github_webhook_secret_previous": "The previous secret, accepted while you rotate.",
            "github_api_url": "GitHub's REST API; for GitHub Enterprise Server `https://HOST/api/v3`.",
            "autofix_github_concurrency": "Requests in flight to GitHub at once, per process (1 to 99). "
            "GitHub allows no more than 100 at once: keep this times the number of processes under that.",
            "github_client_id": "The App's OAuth client id: dashboard sign-in with GitHub.",
            "github_client_secret": "The App's OAuth client secret.",
            "autofix_bot_login": "The App's bot login, e.g. `my-autofix[bot]`: marks the bot's own PRs.",
            "autofix_app_html_url": "The App's page on GitHub (saved at registration; links to Install).",
        },
    ),
    (
        "The model",
        {
            "anthropic_api_key": "The Anthropic API key (workers only).",
            "anthropic_base_url": "The Anthropic API (or a compatible gateway).",
            "autofix_model": "The model id.",
            "autofix_providers": "Providers in fallback order: `anthropic`, `openai-compat`.",
            "openai_compat_base_url": "An OpenAI-compatible server with tools (Ollama, vLLM, llama.cpp).",
            "openai_compat_model": "Its model name.",
            "openai_compat_api_key": "Its key, if it needs one.",
            "autofix_candidates": "Candidate patches per attempt (a repository may ask for 1 to 8).",
            "autofix_max_steps": "Model calls per candidate.",
            "autofix_max_tokens": "Tokens per job, all candidates, cached tokens included.",
            "autofix_max_dollars": "Dollars per job; a repository's config can only lower it.",
            "autofix_installation_daily_dollars": "Dollars per installation per UTC day, across all its "
            "repositories; unset, no cap. Each model call reserves its worst case against it first.",
        },
    ),
    (
        "The sandbox",
        {
            "autofix_sandbox": "Where repository code runs: `local` (a confined process on the worker) or "
            "`actions` (the repository's own runners).",
            "autofix_sandbox_workflow": "The sandbox workflow's file name in users' repositories.",
            "autofix_sandbox_parallel": "Candidate runs side by side (local).",
            "autofix_sandbox_timeout": "Seconds per test run.",
            "autofix_sandbox_wait": "Seconds for a whole batch (actions: queueing included).",
            "autofix_sandbox_poll": "Seconds between polls of a workflow run (actions).",
            "autofix_reproduce_reruns": "Reruns of a failure that passed, to tell flaky from not reproduced.",
        },
    ),
    (
        "Triggers",
        {
            "autofix_label": "The issue label that asks for a fix (case-insensitive).",
            "autofix_branch_prefix": "The bot's branches; failures on them are never fixed again.",
        },
    ),
    (
        "Server and state",
        {
            "redis_url": "Redis for queues and state. Unset: `autofix serve` runs its own.",
            "autofix_redis_volatile": "Accept a Redis without append-only persistence (tests only).",
            "autofix_data_dir": "The embedded Redis, the `serve` lock, saved App credentials.",
            "autofix_host": "Where `serve` and `web` listen. Loopback unless you say otherwise.",
            "autofix_port": "Their port.",
            "autofix_public_url": "How GitHub and browsers reach this server (manifest, OAuth).",
            "webhook_proxy_url": "A smee.io-style channel that relays webhooks to a laptop.",
            "autofix_log_format": "`json` (the default when stderr is not a terminal) or `text`.",
            "autofix_log_level": "`debug`, `info`, `warning` or `error`.",
        },
    ),
    (
        "Dashboard",
        {
            "autofix_dashboard_users": "GitHub logins allowed to sign in, comma-separated.",
            "autofix_dashboard_org": "Or: members of this organisation may sign in.",
            "autofix_dashboard_token": "A sign-in token for a single-user install.",
            "autofix_session_secret": "Signs session cookies. Unset: generated once into the data directory.",
        },
    ),
    (
        "Reports and notifications",
        {
            "autofix_report_repo": "`owner/name`: post the weekly report there as an issue.",
            "autofix_report_weekday": "Its day, 0 (Monday) to 6 (UTC).",
            "autofix_report_hour": "Its hour, 0 to 23 (UTC).",
            "autofix_notify_slack_url": "A Slack-compatible incoming webhook for notifications.",
            "autofix_notify_webhook_url": "A generic JSON webhook for notifications.",
        },
    ),
]


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default
    if value is None or value == "":
        return "—"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{value}`"


def render() -> str:
    lines = [
        "# Settings reference",
        "",
        "<!-- generated from app/settings_doc.py by `python -m app.settings_doc`; do not edit by hand -->",
        "",
        "Settings come from the environment, then `.env` in the working directory, then the credentials",
        "`autofix serve` saved in the data directory when it registered the App. A bad value stops the",
        "command with one line naming the variable. `autofix doctor` checks the ones that reach outside.",
    ]
    for title, described in SECTIONS:
        lines += ["", f"## {title}", "", "| variable | default | meaning |", "|---|---|---|"]
        lines += [f"| `{name.upper()}` | {_default(name)} | {text} |" for name, text in described.items()]
    return "\n".join(lines) + "\n"


def undocumented() -> set[str]:
    described = {name for _, section in SECTIONS for name in section}
    return set(Settings.model_fields) - described


if __name__ == "__main__":
    print(render(), end="")
