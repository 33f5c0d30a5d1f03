"""Greeting, capabilities and out-of-scope replies that name the documents actually in force.

The knowledge base decides what the assistant can answer from (`Retriever.documents`, with or
without the related laws); knowledge.retrieval.answering.scope_of orders and counts them, and
this action picks the response: utter_<reply> names every document in force,
utter_<reply>_many names the first and counts the rest, utter_<reply>_generic is for a
knowledge base that cannot be read (a greeting must never fail because of it).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_client import knowledge_base
from knowledge.retrieval.answering import Scope, scope_of

log = logging.getLogger(__name__)

# The intent the reply answers -> the response family (domain.yml).
REPLIES = {"greet": "utter_greet", "ask_capabilities": "utter_capabilities",
           "out_of_scope": "utter_out_of_scope"}
DEFAULT_REPLY = "utter_capabilities"


def current_scope() -> Scope | None:
    """The documents in force of the live index; None when it cannot be read."""
    try:
        scope = scope_of(knowledge_base().retriever.documents)
    except Exception:  # any failure to read the KB: the generic wording, never an error
        log.exception("knowledge base unreadable for the scope reply")
        return None
    return scope if scope.count else None


class ActionDescribeScope(Action):
    def name(self) -> str:
        return "action_describe_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        describe_scope(dispatcher, intent)
        return []


def describe_scope(dispatcher: CollectingDispatcher, intent: str | None) -> None:
    """The reply for `intent` naming the documents in force (or, unreadable, none)."""
    utter_naming_documents(dispatcher, REPLIES.get(intent or "", DEFAULT_REPLY), current_scope())


def utter_naming_documents(dispatcher: CollectingDispatcher, reply: str,
                           scope: Scope | None) -> None:
    """`reply` of a response family that names the documents: utter_<reply> lists them all,
    _many names the first and counts the rest, _generic is for no readable scope."""
    if scope is None or not scope.count:
        dispatcher.utter_message(response=f"{reply}_generic")
    else:
        dispatcher.utter_message(response=f"{reply}_many" if scope.more else reply,
                                 documents=scope.listed, count=scope.count)
