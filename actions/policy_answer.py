"""Answers a policy question from the knowledge base, with its citation."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_user_text
from actions.knowledge_client import knowledge_base
from knowledge.answering import AnswerKind, compose_answer
from knowledge.retriever import KnowledgeBaseUnavailable

log = logging.getLogger(__name__)

POLICY_INTENTS = frozenset({"ask_policy", "ask_measures", "ask_category"})


class ActionAnswerPolicyQuestion(Action):
    def name(self) -> str:
        return "action_answer_policy_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        question = last_user_text(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        try:
            result = knowledge_base().retriever.search(question)
        except KnowledgeBaseUnavailable:
            log.exception("knowledge base unavailable for %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_kb_unavailable")
            return [SlotSet("human_offered", True), SlotSet("last_question", question)]

        answer = compose_answer(result, understood_as_policy_question=intent in POLICY_INTENTS)
        log.info("sender=%s intent=%s kind=%s %s", tracker.sender_id, intent,
                 answer.kind.value, result.reason)
        events = [SlotSet("last_question", question)]
        if answer.kind is AnswerKind.ANSWER:
            dispatcher.utter_message(response="utter_policy_answer", answer=answer.text,
                                     citation=answer.citation)
            for citation in answer.see_also:
                dispatcher.utter_message(response="utter_policy_see_also", citation=citation)
            return [*events, SlotSet("human_offered", False),
                    SlotSet("last_citations", [answer.citation, *answer.see_also])]
        if answer.kind is AnswerKind.NOT_COVERED:
            dispatcher.utter_message(response="utter_not_covered")
            return [*events, SlotSet("human_offered", True), SlotSet("last_citations", [])]
        dispatcher.utter_message(response="utter_did_not_understand")
        return [*events, SlotSet("human_offered", False), SlotSet("last_citations", [])]
