import pytest

from app.commands import Command, is_command, parse_command


@pytest.mark.parametrize(
    ("body", "verb", "args"),
    [
        ("/autofix", "fix", ()),
        ("/autofix\r\nplease look at the flaky test", "fix", ()),
        ("  \n/autofix retry", "retry", ()),
        ("/autofix RETRY", "retry", ()),
        ("/autofix fix tests/test_api.py::test_get", "fix", ("tests/test_api.py::test_get",)),
        ("/autofix stop", "stop", ()),
        ("/autofix explain", "explain", ()),
        ("/autofix help", "help", ()),
        ("/autofix\tretry  now ", "retry", ("now",)),
    ],
)
def test_parses_known_verbs(body: str, verb: str, args: tuple[str, ...]) -> None:
    command = parse_command(body)
    assert command == Command(verb, args)  # type: ignore[arg-type]
    assert command is not None
    assert command.error is None


@pytest.mark.parametrize(
    "body",
    [
        "",
        "please /autofix this",
        "/autofixes",
        "/autofix-bot retry",
        "/auto fix",
        "> /autofix retry",  # a quote of someone else's command
        "@autofix retry",
        "/cherry-pick preview-branch",
    ],
)
def test_ignores_text_not_addressed_to_us(body: str) -> None:
    assert parse_command(body) is None
    assert not is_command(body)


def test_unknown_verb_becomes_help_with_an_error() -> None:
    command = parse_command("/autofix deploy prod")
    assert command is not None
    assert command.verb == "help"
    assert command.error == "unknown command 'deploy'"


def test_only_the_first_line_is_read_and_arguments_are_bounded() -> None:
    command = parse_command("/autofix fix " + "a" * 5000 + "\n/autofix stop")
    assert command is not None
    assert command.verb == "fix"
    assert sum(len(a) for a in command.args) < 600


def test_to_json_is_plain_data() -> None:
    command = parse_command("/autofix retry now")
    assert command is not None
    assert command.to_json() == {"verb": "retry", "args": ["now"], "error": None, "raw": "/autofix retry now"}
