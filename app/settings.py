"""Settings: read once at start-up from the environment and an optional `.env`, never at import.

Field names are the environment variable names in lower case, so `GITHUB_APP_ID` is
`settings.github_app_id`. Values a command cannot run without are checked by `require()`, which
raises `SettingsError` with one line naming the variable; the CLI prints that line and exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-sonnet-4-6"
PEM_PREFIX = "-----BEGIN"


class SettingsError(Exception):
    """A missing or malformed setting; `str(e)` is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, env_ignore_empty=True)

    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_webhook_secret_previous: SecretStr | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    autofix_github_concurrency: int = 20  # requests in flight to GitHub per process (GitHub allows 100)

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str = DEFAULT_ANTHROPIC_BASE_URL
    autofix_model: str = DEFAULT_MODEL
    # The patch engine (jobs/patch): k attempts per job, budgets checked before every model call.
    autofix_candidates: int = 3
    autofix_max_steps: int = 30  # model calls per attempt
    autofix_max_tokens: int = 2_000_000  # per job, all attempts, cached tokens included
    autofix_max_dollars: float = 3.0  # per job, all attempts
    autofix_installation_daily_dollars: float | None = None  # per installation per UTC day; None: no cap
    autofix_providers: str = "anthropic"  # fallback order: "anthropic,openai-compat"
    openai_compat_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama)
    openai_compat_model: str | None = None
    openai_compat_api_key: SecretStr | None = None

    redis_url: str | None = None
    autofix_redis_volatile: bool = False  # a Redis without appendonly is intended (app/redis_guard.py)
    autofix_data_dir: Path = Path("data")
    autofix_label: str = "autofix"
    autofix_branch_prefix: str = "autofix/"
    autofix_bot_login: str | None = None
    autofix_sandbox_workflow: str = "autofix-sandbox.yml"
    autofix_sandbox: Literal["local", "actions"] = "local"  # where repository code runs
    autofix_sandbox_parallel: int = 2  # candidate runs side by side (local)
    autofix_sandbox_timeout: int = 600  # seconds per test run
    autofix_sandbox_wait: int = 1800  # seconds for a whole batch (actions: queueing included)
    autofix_sandbox_poll: int = 15  # seconds between polls of a workflow run (actions)
    autofix_reproduce_reruns: int = 3  # reruns of tests that passed, to tell flaky from not reproduced
    autofix_host: str = "127.0.0.1"
    autofix_port: int = 8000
    # The dashboard (app/dashboard): sign in with GitHub (OAuth with the App's client id and secret, for
    # the listed users or members of the org), or with a token for a single-user install.
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    autofix_dashboard_users: str = ""  # GitHub logins, comma-separated
    autofix_dashboard_org: str | None = None  # members of this org may sign in
    autofix_dashboard_token: SecretStr | None = None
    autofix_session_secret: SecretStr | None = None  # unset: generated once into the data directory
    autofix_public_url: str | None = None  # how browsers and GitHub reach this server, if not localhost
    autofix_app_html_url: str | None = None  # the App's page on GitHub (saved at registration)
    webhook_proxy_url: str | None = None  # a smee.io-style channel relaying webhooks to a laptop
    # Reports and notifications
    autofix_report_repo: str | None = None  # owner/name: post the weekly report there as an issue
    autofix_report_weekday: int = 0  # 0 = Monday (UTC)
    autofix_report_hour: int = 8  # UTC
    autofix_notify_slack_url: SecretStr | None = None  # a Slack-compatible incoming webhook
    autofix_notify_webhook_url: SecretStr | None = None  # a generic JSON webhook
    autofix_log_format: Literal["auto", "json", "text"] = "auto"
    autofix_log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("github_app_id")
    @classmethod
    def _positive_app_id(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError("must be a positive integer (the App's numeric id)")
        return v

    @field_validator("autofix_port")
    @classmethod
    def _port_range(cls, v: int) -> int:
        if not 0 < v < 65536:
            raise ValueError("must be a TCP port between 1 and 65535")
        return v

    @field_validator("github_private_key")
    @classmethod
    def _unescape_pem(cls, v: SecretStr | None) -> SecretStr | None:
        # PEMs pasted into env vars and CI secrets often arrive with literal "\n".
        if v is None:
            return None
        text = v.get_secret_value().replace("\\n", "\n").strip()
        if not text.startswith(PEM_PREFIX):
            raise ValueError("must be a PEM private key starting with '-----BEGIN'")
        return SecretStr(text + "\n")

    @field_validator("github_private_key_path")
    @classmethod
    def _readable_pem(cls, v: Path | None) -> Path | None:
        if v is None:
            return None
        try:
            head = v.read_text()[:64]
        except OSError as e:
            raise ValueError(f"cannot read {v}: {e.strerror}") from None
        if not head.lstrip().startswith(PEM_PREFIX):
            raise ValueError(f"{v} is not a PEM private key")
        return v

    @field_validator(
        "autofix_candidates",
        "autofix_max_steps",
        "autofix_max_tokens",
        "autofix_sandbox_parallel",
        "autofix_sandbox_timeout",
        "autofix_sandbox_wait",
        "autofix_sandbox_poll",
    )
    @classmethod
    def _positive_limit(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be a positive integer")
        return v

    @field_validator("autofix_github_concurrency")
    @classmethod
    def _under_githubs_cap(cls, v: int) -> int:
        if not 0 < v < 100:
            raise ValueError("must be between 1 and 99 (GitHub allows 100 concurrent requests)")
        return v

    @field_validator("autofix_reproduce_reruns")
    @classmethod
    def _reruns(cls, v: int) -> int:
        if not 0 <= v <= 20:
            raise ValueError("must be between 0 and 20")
        return v

    @field_validator("autofix_max_dollars")
    @classmethod
    def _positive_dollars(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be a positive amount of dollars")
        return v

    @field_validator("autofix_installation_daily_dollars")
    @classmethod
    def _positive_daily_dollars(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("must be a positive amount of dollars (unset it for no cap)")
        return v

    @field_validator("autofix_providers")
    @classmethod
    def _known_providers(cls, v: str) -> str:
        names = [n.strip() for n in v.split(",") if n.strip()]
        unknown = [n for n in names if n not in ("anthropic", "openai-compat")]
        if not names or unknown:
            raise ValueError("must list anthropic and/or openai-compat, comma-separated")
        return ",".join(names)

    @field_validator("autofix_report_weekday")
    @classmethod
    def _weekday(cls, v: int) -> int:
        if not 0 <= v <= 6:
            raise ValueError("must be 0 (Monday) to 6 (Sunday)")
        return v

    @field_validator("autofix_report_hour")
    @classmethod
    def _hour(cls, v: int) -> int:
        if not 0 <= v <= 23:
            raise ValueError("must be an hour from 0 to 23 (UTC)")
        return v

    @field_validator("autofix_report_repo")
    @classmethod
    def _owner_name(cls, v: str | None) -> str | None:
        if v is not None and (v.count("/") != 1 or not all(v.split("/"))):
            raise ValueError(f"must be owner/name, got {v!r}")
        return v

    @field_validator(
        "github_api_url",
        "anthropic_base_url",
        "openai_compat_base_url",
        "autofix_public_url",
        "webhook_proxy_url",
    )
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {v!r}")
        return v.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"must be a redis://, rediss:// or unix:// URL, got {v!r}")
        return v

    @field_validator("autofix_label", "autofix_branch_prefix", "autofix_sandbox_workflow")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @model_validator(mode="after")
    def _one_key_source(self) -> Settings:
        if self.github_private_key is not None and self.github_private_key_path is not None:
            raise ValueError("GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH are both set; keep one")
        return self

    # -- derived values --------------------------------------------------------------------

    def dashboard_users(self) -> frozenset[str]:
        """The GitHub logins allowed into the dashboard, lower-cased."""
        return frozenset(u.strip().lower() for u in self.autofix_dashboard_users.split(",") if u.strip())

    def registered(self) -> bool:
        """Whether the GitHub App is known: its id, key and webhook secret are all set."""
        return not self.missing("github_app_id", "github_private_key", "github_webhook_secret")

    def webhook_secrets(self) -> tuple[bytes, ...]:
        """The current secret first, then the previous one while a rotation is under way."""
        found = (self.github_webhook_secret, self.github_webhook_secret_previous)
        return tuple(s.get_secret_value().encode() for s in found if s is not None)

    def private_key(self) -> str | None:
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_path is not None:
            return self.github_private_key_path.read_text()
        return None

    def require(self, *names: str, needed_by: str) -> None:
        """Raise SettingsError for the first of `names` that is unset."""
        for name in names:
            if name == "github_private_key":
                missing = self.github_private_key is None and self.github_private_key_path is None
                label = "GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH"
            else:
                missing = getattr(self, name) is None
                label = name.upper()
            if missing:
                raise SettingsError(f"{label} is not set (needed by {needed_by})")

    def missing(self, *names: str) -> list[str]:
        """The names of unset values among `names`, for warnings that do not stop a command."""
        out = []
        for name in names:
            try:
                self.require(name, needed_by="")
            except SettingsError as e:
                out.append(str(e).split(" is not set")[0])
        return out


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Build the settings, turning validation errors into one SettingsError line.

    Sources, strongest first: the environment, `env_file`, then the credentials `autofix serve` saved in
    the data directory when it registered the GitHub App (app/setup/credentials.py).
    """
    from app.setup.credentials import saved_env_file

    try:
        settings = Settings(_env_file=env_file)
        saved = saved_env_file(settings.autofix_data_dir)
        if saved.is_file():
            files = (saved, env_file) if env_file is not None else (saved,)
            settings = Settings(_env_file=files)
        return settings
    except ValidationError as e:
        raise SettingsError(describe_validation_error(e)) from None


def describe_validation_error(e: ValidationError) -> str:
    first = e.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "int_parsing":
        message = f"must be an integer, got {first['input']!r}"
    elif first["type"] == "literal_error":
        message = message.replace("Input should be", "must be")
    return f"{name}: {message}" if name else message
