"""The action response validation speed-up accepts and rejects exactly what Rasa's own
`jsonschema.validate` call does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from assistant import rasa_speedups

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "needs_human", "value": True, "timestamp": None}],
     "responses": [{"text": "好的", "buttons": []}]},
    {"events": [{"event": "active_loop", "name": None},
                {"event": "followup", "name": "action_listen"},
                {"event": "bot", "text": "您好", "data": {}, "metadata": {}}],
     "responses": [{"response": "utter_handoff"}]},
]
INVALID = [
    {"events": {"event": "slot"}},
    {"events": [{"name": "x"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": 3, "value": 1}]},
    {"events": [], "responses": "hello"},
    {"events": [], "responses": ["hello"]},
]


@pytest.fixture
def original() -> object:
    """Rasa's own validation, as it is before the speed-up (restored afterwards)."""
    saved = RemoteAction._validate_action_result
    if saved is rasa_speedups._validate_action_result:
        pytest.skip("speed-up already installed in this process before the fixture ran")
    yield saved
    RemoteAction._validate_action_result = saved


def test_install_patches_once(original: object) -> None:
    assert rasa_speedups.install() and rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("result", VALID)
def test_valid_responses_pass_both(original, result: dict) -> None:
    action = RemoteAction("action_x", None)
    assert original(action, result)
    assert rasa_speedups._validate_action_result(action, result)


@pytest.mark.parametrize("result", INVALID)
def test_invalid_responses_fail_both_with_the_same_error(original, result: dict) -> None:
    action = RemoteAction("action_x", None)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        original(action, result)
    with pytest.raises(jsonschema.ValidationError) as ours:
        rasa_speedups._validate_action_result(action, result)
    assert ours.value.message == theirs.value.message
    assert list(ours.value.path) == list(theirs.value.path)


def test_a_schema_beyond_draft7_is_left_to_rasa(original, monkeypatch) -> None:
    monkeypatch.setattr(RemoteAction, "action_response_format_spec",
                        staticmethod(lambda: {"type": "object", "$dynamicRef": "#x"}))
    assert rasa_speedups.install() is False
    assert RemoteAction._validate_action_result is original
