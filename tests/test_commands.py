"""The slash-command parser over real comment bodies and our own: the first-line rule, quotes, code
blocks, unicode, very long comments, and each verb's arguments."""

import json
from pathlib import Path

import pytest

from app.commands import MAX_TEXT_CHARS, VERBS, Command, is_command, parse_command

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks"


@pytest.mark.parametrize(
    ("body", "verb", "args"),
    [
        ("/autofix", "fix", ()),
        ("  \n/autofix retry", "retry", ()),
        ("/autofix RETRY", "retry", ()),
        ("/autofix stop", "stop", ()),
        ("/autofix explain", "explain", ()),
        ("/autofix help", "help", ()),
        ("/autofix help retry", "help", ("retry",)),
        ("/autofix status", "status", ()),
        ("/autofix ignore", "ignore", ()),
        ("/autofix apply", "apply", ()),
        ("/autofix undo\r\n", "undo", ()),
        ("/autofix budget 5", "budget", ("5",)),
        ("/autofix budget $7.50", "budget", ("$7.50",)),
        ("\ufeff/autofix status", "status", ()),
        ("   /autofix status", "status", ()),  # three spaces: still a paragraph in markdown
    ],
)
def test_parses_each_verb(body: str, verb: str, args: tuple[str, ...]) -> None:
    command = parse_command(body)
    assert command is not None
    assert (command.verb, command.args, command.error) == (verb, args, None)


@pytest.mark.parametrize(
    ("body", "verb", "text"),
    [
        ("/autofix\r\nplease look at the flaky test", "fix", "please look at the flaky test"),
        ("/autofix fix tests/test_api.py::test_get", "fix", "tests/test_api.py::test_get"),
        ("/autofix\tretry  now ", "retry", "now"),
        (
            "/autofix retry\nThe bug is in the parser,\nnot the test.",
            "retry",
            "The bug is in the parser,\nnot the test.",
        ),
        ("/autofix retry use `dict.get` here", "retry", "use `dict.get` here"),
        ("/autofix revise keep the public name", "revise", "keep the public name"),
        ("/autofix revise\n> quoted review\nrename it", "revise", "> quoted review\nrename it"),
        ("/autofix retry ünïcødé — ça marche 🚀", "retry", "ünïcødé — ça marche 🚀"),
    ],
)
def test_free_text_verbs_keep_the_maintainers_words(body: str, verb: str, text: str) -> None:
    command = parse_command(body)
    assert command is not None
    assert (command.verb, command.text, command.error) == (verb, text, None)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n\n",
        "please /autofix this",
        "/autofixes",
        "/autofix-bot retry",
        "/auto fix",
        "> /autofix retry",  # a quote of someone else's command
        ">/autofix retry",
        "```\n/autofix retry\n```",  # a fenced code block
        "~~~\n/autofix stop\n~~~",
        "    /autofix retry",  # an indented code block
        "\t/autofix retry",
        "`/autofix retry`",
        "@autofix retry",
        "／autofix retry",  # a fullwidth slash is not ours
        "Thanks!\n/autofix retry",  # not on the first line
    ],
)
def test_ignores_text_not_addressed_to_us(body: str) -> None:
    assert parse_command(body) is None
    assert not is_command(body)


@pytest.mark.parametrize("path", sorted(WEBHOOKS.glob("issue_comment.*.json")), ids=lambda p: p.name)
def test_real_comment_bodies_are_not_commands(path: Path) -> None:
    body = json.loads(path.read_text())["comment"]["body"]
    assert parse_command(body) is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("/autofix deploy prod", "unknown command `deploy`"),
        ("/autofix please fix this", "unknown command `please`"),
        ("/autofix retyr", "unknown command `retyr` (did you mean `retry`?)"),
        ("/autofix Stpo", "unknown command `Stpo` (did you mean `stop`?)"),
        ("/autofix revise", "`revise` needs your feedback: `/autofix revise <what to change>`"),
        ("/autofix revise   \n  ", "`revise` needs your feedback: `/autofix revise <what to change>`"),
        ("/autofix stop now", "`stop` takes no arguments"),
        ("/autofix undo 3", "`undo` takes no arguments"),
        ("/autofix budget", "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`"),
        (
            "/autofix budget lots",
            "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`",
        ),
        ("/autofix budget 0", "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`"),
        (
            "/autofix budget -3",
            "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`",
        ),
        (
            "/autofix budget 5000",
            "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`",
        ),
        (
            "/autofix budget 5 10",
            "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`",
        ),
        (
            "/autofix budget nan",
            "`budget` takes one amount in dollars, from 0.01 to 1000: `/autofix budget 5`",
        ),
    ],
)
def test_bad_commands_become_help_with_a_clear_error(body: str, error: str) -> None:
    command = parse_command(body)
    assert command is not None
    assert (command.verb, command.error) == ("help", error)


def test_an_unknown_verb_is_quoted_short() -> None:
    command = parse_command("/autofix " + "x" * 300)
    assert command is not None
    assert command.error == f"unknown command `{'x' * 40}`"


def test_budget_reads_dollars() -> None:
    for body, dollars in (
        ("/autofix budget 5", 5.0),
        ("/autofix budget $7.50", 7.5),
        ("/autofix budget 12$", 12.0),
    ):
        command = parse_command(body)
        assert command is not None
        assert command.dollars == dollars


def test_only_the_first_line_is_a_command_and_sizes_are_bounded() -> None:
    command = parse_command("/autofix stop\n/autofix retry")
    assert command is not None
    assert command.verb == "stop"
    long = parse_command("/autofix retry " + "a" * 5000 + "\n" + "b" * 50_000)
    assert long is not None
    assert long.verb == "retry"
    assert len(long.text) == MAX_TEXT_CHARS
    assert len(long.raw) < 600


def test_a_very_long_comment_parses() -> None:
    body = "/autofix status\n" + "lorem ipsum\n" * 200_000
    command = parse_command(body)
    assert command is not None
    assert command.verb == "status"


def test_json_round_trip() -> None:
    for verb in VERBS:
        body = f"/autofix {verb}" + (" 5" if verb == "budget" else " words" if verb == "revise" else "")
        command = parse_command(body)
        assert command is not None
        again = Command.from_json(json.loads(json.dumps(command.to_json())))
        assert again == command
        assert again.text == command.text


def test_to_json_is_plain_data() -> None:
    command = parse_command("/autofix retry now")
    assert command is not None
    assert command.to_json() == {
        "verb": "retry", "args": ["now"], "error": None, "raw": "/autofix retry now", "text": "now"
    }  # fmt: skip


def test_from_json_never_trusts_a_verb() -> None:
    assert Command.from_json({"verb": "rm -rf"}).verb == "help"
    assert Command.from_json({}).verb == "help"
