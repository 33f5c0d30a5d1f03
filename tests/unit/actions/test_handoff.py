"""action_handoff_to_human: marks the conversation for staff and says what happens next."""

from __future__ import annotations

import logging

import pytest
from rasa_sdk.events import SlotSet

from actions.handoff import ActionHandoffToHuman


@pytest.mark.parametrize(("fixture", "reason"), [
    ("request_human", "user_request"),  # "转人工"
    ("accept_offered_human", "accepted_offer"),  # "好的" after "需要为您转人工吗？"
])
def test_handoff_marks_the_conversation_for_a_person_with_the_reason(
    load_tracker, run_action, dispatcher, render, fixture: str, reason: str
) -> None:
    events = run_action(ActionHandoffToHuman(), load_tracker(fixture))

    assert events == [SlotSet("needs_human", True), SlotSet("handoff_reason", reason),
                      SlotSet("human_offered", False)]
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff"
    assert "已为您转接人工客服" in render(message)


def test_handoff_is_logged_with_the_sender(load_tracker, run_action, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="actions.handoff"):
        run_action(ActionHandoffToHuman(), load_tracker("request_human"))
    assert "handoff sender=owner-wants-human reason=user_request" in caplog.text
