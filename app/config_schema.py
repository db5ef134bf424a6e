"""The schema of a repository's `.github/autofix.yml`: every key, its type, default and meaning.

One table (`SCHEMA`) drives both the validator (`app.repo_config`) and the reference page
(`docs/configuration.md`, written by `render_reference`; a test keeps the two in step). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PERMISSIONS = ("read", "triage", "write", "maintain", "admin")
COMMANDS = (
    "fix",
    "retry",
    "revise",
    "apply",
    "undo",
    "explain",
    "stop",
    "ignore",
    "status",
    "budget",
    "help",
)


@dataclass(frozen=True)
class Field:
    key: str  # dotted path, e.g. "limits.jobs_per_hour"
    kind: str  # "bool" | "int" | "float" | "str" | "str?" | "globs" | "strs" | "choice" | "permissions"
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


SCHEMA: tuple[Field, ...] = (
    Field("version", "int", 1, "Schema version of this file. Only `1` exists.", minimum=1, maximum=1),
    Field("enabled", "bool", True, "Master switch: `false` makes the bot ignore this repository."),
    Field("triggers.checks", "bool", True, "Fix failed check runs."),
    Field("triggers.issues", "bool", True, "Fix issues labelled with `label`."),
    Field("triggers.commands", "bool", True, "Act on `/autofix` comments."),
    Field(
        "triggers.reviews",
        "bool",
        True,
        "A review that requests changes on an Autofix pull request becomes `/autofix revise`.",
    ),
    Field("label", "str", "autofix", "The issue label that asks for a fix."),
    Field("checks", "globs", ["*"], "Check run names to watch (globs, e.g. `test (*)`)."),
    Field(
        "check_apps",
        "globs",
        ["*"],
        "Apps whose failed check runs are fixed, by slug (globs, e.g. `github-actions`).",
    ),
    Field(
        "branches",
        "globs",
        ["*"],
        "Branches whose failures are fixed (globs); PR heads count by their branch.",
    ),
    Field("pull_requests.same_repo", "bool", True, "Fix failing pull requests from this repository."),
    Field(
        "pull_requests.forks",
        "choice",
        "suggest",
        "Failing pull requests from forks: `suggest` comments the proven patch as suggestions "
        "(never pushes), `off` ignores them.",
        choices=("suggest", "off"),
    ),
    Field(
        "setup",
        "str?",
        None,
        "Command that installs dependencies in the sandbox, e.g. `pip install -e .[test]`.",
    ),
    Field("test", "str?", None, "Command that runs the tests; default: derived from the failing tests."),
    Field(
        "paths.forbidden",
        "globs",
        [],
        "Extra paths a patch may never touch, added to the built-in list "
        "(`.github/workflows/**`, secrets-like files).",
    ),
    Field("paths.allowed", "globs", [], "When set, a patch may only touch these paths."),
    Field("candidates", "int", 3, "Candidate patches asked of the model per attempt.", minimum=1, maximum=8),
    Field("limits.max_open_prs", "int", 5, "Open bot pull requests at once.", minimum=0),
    Field("limits.jobs_per_hour", "int", 10, "Fix attempts per hour.", minimum=0),
    Field("limits.jobs_per_day", "int", 50, "Fix attempts per day.", minimum=0),
    Field(
        "limits.dollars_per_job", "float", 2.0, "Model spend cap for one attempt, in US dollars.", minimum=0
    ),
    Field("limits.dollars_per_day", "float", 20.0, "Model spend cap per day.", minimum=0),
    Field("limits.dollars_per_month", "float", 200.0, "Model spend cap per calendar month.", minimum=0),
    Field("limits.steps_per_candidate", "int", 30, "Model turns per candidate.", minimum=1, maximum=200),
    Field(
        "limits.sandbox_minutes", "int", 20, "Wall-clock limit for one sandbox run.", minimum=1, maximum=360
    ),
    Field("pull_request.draft", "bool", True, "Open fix pull requests as drafts."),
    Field("pull_request.labels", "strs", ["autofix"], "Labels put on the bot's pull requests."),
    Field(
        "issues.without_reproduction",
        "choice",
        "comment",
        "When no failing reproduction test could be proven for an issue: `comment` posts the diagnosis "
        "only, `draft` opens a draft PR marked unproven.",
        choices=("comment", "draft"),
    ),
    Field(
        "commands.permission",
        "choice",
        "write",
        "The least repository permission needed to run `/autofix` commands.",
        choices=PERMISSIONS,
    ),
    Field(
        "commands.require",
        "permissions",
        {},
        "Per-command overrides of `commands.permission`, e.g. `{budget: maintain}`.",
        choices=PERMISSIONS,
    ),
)

BY_KEY = {f.key: f for f in SCHEMA}
SECTIONS = frozenset(f.key.split(".")[0] for f in SCHEMA if "." in f.key)


def defaults() -> dict[str, Any]:
    """Every key's default, by dotted key (lists and dicts copied, so callers may mutate them)."""
    return {
        f.key: (type(f.default)(f.default) if isinstance(f.default, list | dict) else f.default)
        for f in SCHEMA
    }


_KIND_TEXT = {
    "bool": "`true` or `false`",
    "int": "integer",
    "float": "number",
    "str": "string",
    "str?": "string or empty",
    "globs": "list of globs",
    "strs": "list of strings",
}


def describe(f: Field) -> str:
    """What a value of `f` must be, as the reference and the error messages say it."""
    if f.kind == "choice":
        text = "one of " + ", ".join(f"`{c}`" for c in f.choices)
    elif f.kind == "permissions":
        text = "map of command to one of " + ", ".join(f"`{c}`" for c in f.choices)
    else:
        text = _KIND_TEXT[f.kind]
    if f.minimum is not None and f.minimum == f.maximum:
        text = f"`{f.minimum:g}`"
    elif f.minimum is not None and f.maximum is not None:
        text += f" from {f.minimum:g} to {f.maximum:g}"
    elif f.minimum is not None:
        text += f" ≥ {f.minimum:g}"
    return text


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list | dict) and not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    return f"`{value}`"


def render_reference() -> str:
    """The `docs/configuration.md` reference, generated from SCHEMA."""
    lines = [
        "# `.github/autofix.yml` reference",
        "",
        "<!-- generated from app/config_schema.py by `python -m app.config_schema`; do not edit by hand -->",
        "",
        "Autofix reads this file from the repository's **default branch** only, so a pull request cannot",
        "change the rules it is judged by. Every key is optional. A file that does not validate is never",
        "half-applied: the bot reports each error (key, line, what is allowed) on its `Autofix` check run",
        "and does nothing else until the file is fixed.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for f in SCHEMA:
        lines.append(f"| `{f.key}` | {describe(f)} | {_show(f.default)} | {f.doc} |")
    lines += [
        "",
        "Globs match whole names. In `checks` and `branches`, `*` matches any run of characters (so `*`",
        "matches `feature/x` too) and `?` one character. In `paths.*`, `*` stays within one path segment",
        "and `**` crosses segments. Commands in `commands.require` are: "
        + ", ".join(f"`{c}`" for c in COMMANDS)
        + ".",
        "",
        "## Example",
        "",
        "```yaml",
        "version: 1",
        "checks: ['test*', 'lint']",
        "branches: [main, 'release/*']",
        "setup: pip install -e .[test]",
        "test: python -m pytest -q",
        "paths:",
        "  forbidden: ['migrations/**']",
        "limits:",
        "  dollars_per_day: 5",
        "commands:",
        "  require: {budget: maintain}",
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_reference(), end="")
