"""Marks the conversation for a human and tells the user what happens next."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from conversation.slots import (
    HANDOFF_ACCEPTED_OFFER,
    HANDOFF_REASON,
    HANDOFF_USER_REQUEST,
    HUMAN_OFFERED,
    NEEDS_HUMAN,
)

log = logging.getLogger(__name__)


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = HANDOFF_USER_REQUEST if intent == "request_human" else HANDOFF_ACCEPTED_OFFER
        log.info("handoff sender=%s reason=%s", tracker.sender_id, reason)
        dispatcher.utter_message(response="utter_handoff")
        return [SlotSet(NEEDS_HUMAN, True), SlotSet(HANDOFF_REASON, reason),
                SlotSet(HUMAN_OFFERED, False)]
