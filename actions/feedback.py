"""Records that an answer did not help, with the question and the clauses it cited."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_user_text
from conversation.slots import HUMAN_OFFERED, LAST_CITATIONS, LAST_QUESTION, NEGATIVE_FEEDBACK

log = logging.getLogger(__name__)


class ActionRecordNegativeFeedback(Action):
    def name(self) -> str:
        return "action_record_negative_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        feedback = {
            "question": tracker.get_slot(LAST_QUESTION) or "",
            "citations": tracker.get_slot(LAST_CITATIONS) or [],
            "comment": last_user_text(tracker),  # as typed, before normalisation
        }
        # The slot event lands in the tracker store, where staff review picks it up.
        log.info("negative feedback sender=%s %s", tracker.sender_id, feedback)
        dispatcher.utter_message(response="utter_complain")
        return [SlotSet(NEGATIVE_FEEDBACK, feedback), SlotSet(HUMAN_OFFERED, True)]
