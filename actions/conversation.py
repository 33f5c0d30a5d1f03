"""Reading what the user actually typed from the tracker."""

from __future__ import annotations

from rasa_sdk import Tracker


def last_user_text(tracker: Tracker) -> str:
    """The user's message as typed.

    `tracker.latest_message["text"]` is the NLU pipeline's normalised text (our tokenizer
    rewrites it to Simplified, half-width form); staff review and logs need the original,
    which the user event keeps.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("text") or ""
    return tracker.latest_message.get("text") or ""
