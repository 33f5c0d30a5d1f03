"""The speed-ups accept and reject exactly what Rasa's own code does: action response
validation against `jsonschema.validate`, event type lookup against `Event.resolve_by_type`."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

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
    {"events": [{"event": "user", "text": 5}]},
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "yesterday"}]},
    {"events": [{"event": "action", "name": "action_listen"}, {"event": 7}]},
    {"events": [{"event": "bot", "text": "hi", "metadata": []}]},
]


@pytest.fixture
def original() -> object:
    """Rasa's own validation, in place for the test; whatever was installed comes back after."""
    saved = RemoteAction._validate_action_result
    RemoteAction._validate_action_result = rasa_speedups._RASA_VALIDATE
    yield rasa_speedups._RASA_VALIDATE
    RemoteAction._validate_action_result = saved


def test_every_event_type_of_rasa_resolves_as_rasa_resolves_it() -> None:
    rasa_speedups.install()
    names = {cls.type_name for cls in all_subclasses(Event) if getattr(cls, "type_name", None)}
    for name in names:
        assert Event.resolve_by_type(name) is rasa_speedups._RASA_RESOLVE_BY_TYPE(name)
        assert Event.resolve_by_type(name) is rasa_speedups._RASA_RESOLVE_BY_TYPE(name)  # cached
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("bot") is BotUttered and Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=ActionExecuted) is ActionExecuted
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_install_patches_once(original: object) -> None:
    assert rasa_speedups.install() and rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("result", VALID)
def test_valid_responses_pass_both(original, result: dict) -> None:
    action = RemoteAction("action_x", None)
    assert original(action, result)
    assert rasa_speedups._validate_action_result(action, result)
    assert rasa_speedups._validator().is_valid(result)  # answered by the fast path alone


@pytest.mark.parametrize("result", INVALID)
def test_invalid_responses_fail_both_with_the_same_error(original, result: dict) -> None:
    action = RemoteAction("action_x", None)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        original(action, result)
    with pytest.raises(jsonschema.ValidationError) as ours:
        rasa_speedups._validate_action_result(action, result)
    assert ours.value.message == theirs.value.message
    validator = rasa_speedups._validator()
    assert not validator.is_valid(result) and not validator.full.is_valid(result)
    assert list(ours.value.path) == list(theirs.value.path)


def test_a_schema_beyond_draft7_is_left_to_rasa(original, monkeypatch) -> None:
    monkeypatch.setattr(RemoteAction, "action_response_format_spec",
                        staticmethod(lambda: {"type": "object", "$dynamicRef": "#x"}))
    assert rasa_speedups.install() is False
    assert RemoteAction._validate_action_result is original
