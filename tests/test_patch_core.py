"""The loop's pure parts without any server: `converse` driven by hand, cache breakpoints placed by
`build_params`, `retry-after` read by `parse_retry_after`."""

from __future__ import annotations

import copy
import email.utils
import json

import pytest

from jobs.patch.agent import Ending, NeedModel, NeedTools, Stop, converse
from jobs.patch.context import Diagnosis, Usage
from jobs.patch.llm import build_params
from jobs.patch.provider import ModelRequest, ModelTurn, ToolCall, parse_retry_after
from jobs.patch.tools import TOOLS, ToolResult
from tests.patch_support import DIAGNOSIS, first_message


def turn(*calls: ToolCall, text: str = "") -> ModelTurn:
    content = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input} for c in calls]
    return ModelTurn(content, list(calls), "tool_use" if calls else "end_turn", Usage(calls=1), "m")


def finish(core: object, answer: object) -> Ending:
    with pytest.raises(StopIteration) as done:
        core.send(answer)  # type: ignore[attr-defined]
    ending: Ending = done.value.value
    return ending


def test_converse_asks_for_tools_then_ends_on_a_valid_submission() -> None:
    core = converse(first_message())
    need = next(core)
    assert isinstance(need, NeedModel)
    assert need.step == 0
    view = ToolCall("t1", "editor", {"command": "view", "path": "a.py"})
    need = core.send(turn(view, text="Looking."))
    assert need == NeedTools([view])
    need = core.send([ToolResult("     1\tx = 1")])
    assert isinstance(need, NeedModel)
    assert need.step == 1
    assert need.messages[-1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "     1\tx = 1", "is_error": False}
        ],
    }
    submit = ToolCall("t2", "submit_diagnosis", DIAGNOSIS)
    assert core.send(turn(submit)) == NeedTools([submit])
    ending = finish(core, [ToolResult("Diagnosis received.", diagnosis=Diagnosis(**DIAGNOSIS))])
    assert (ending.outcome, ending.steps) == ("submitted", 2)


def test_converse_nudges_twice_then_gives_up() -> None:
    core = converse(first_message())
    next(core)
    first = core.send(turn(text="I think it's fixed."))
    assert isinstance(first, NeedModel)
    assert first.messages[-1]["content"][0]["text"].startswith("No tool was called.")
    core.send(turn(text="Yes."))
    ending = finish(core, turn(text="Done."))
    assert (ending.outcome, ending.detail, ending.steps) == (
        "no_submission",
        "3 replies without a tool call",
        3,
    )


def test_converse_ends_as_the_driver_says_when_no_turn_comes() -> None:
    core = converse(first_message())
    next(core)
    ending = finish(core, Stop("budget_exhausted", "step limit reached: 30 of 30 model calls made"))
    assert ending == Ending("budget_exhausted", "step limit reached: 30 of 30 model calls made", 0)


def test_an_empty_assistant_turn_is_never_sent_back_empty() -> None:
    core = converse(first_message())
    next(core)
    need = core.send(turn())
    assert isinstance(need, NeedModel)
    assert need.messages[1]["content"] == [{"type": "text", "text": "…"}]


def test_build_params_places_four_breakpoints_without_touching_the_conversation() -> None:
    messages = [
        first_message(),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "editor", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
    ]
    kept = copy.deepcopy(messages)
    params = build_params("claude-sonnet-4-6", ModelRequest("system", TOOLS, messages, 100))
    assert messages == kept
    assert json.dumps(params).count('"cache_control"') == 4
    assert params["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in params["tools"][0]
    assert params["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in params["messages"][0]["content"][1]
    assert params["messages"][2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    single = build_params("m", ModelRequest("s", TOOLS, [{"role": "user", "content": "hi"}], 10))
    assert json.dumps(single).count('"cache_control"') == 3


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(999_000, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers, now=1_000_000) == seconds
