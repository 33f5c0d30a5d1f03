"""Answers policy questions from the knowledge base, with citations; thin by design.

What may be said is decided in knowledge.retrieval.answering (including what to say first about
a text no longer in force); this module renders it with the domain's responses and keeps the
conversation state (offered human, fallback count); each search is `observed` for the action
server's metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_user_text
from actions.industry_question import PROFILE_FORM, criteria_of_last_answer
from actions.knowledge_client import knowledge_base, profile_extractor
from actions.scope import describe_scope, utter_naming_documents
from conversation.slots import (
    ASSESSMENT_OFFERED,
    FALLBACK_COUNT,
    HUMAN_OFFERED,
    LAST_ANSWER_PASSAGES,
    LAST_CITATIONS,
    LAST_QUESTION,
    LAST_RETRIEVAL,
    NEEDS_HUMAN,
)
from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import KnowledgeBaseUnavailable
from knowledge.retrieval.answering import (
    AnswerKind,
    OppositeCase,
    PolicyAnswer,
    RepealKind,
    RepealNotice,
    answer_message,
    scope_of,
)
from knowledge.retrieval.version_reference import requested_versions
from observability.action_metrics import observed

log = logging.getLogger(__name__)

POLICY_INTENTS = frozenset({"ask_policy", "ask_measures", "ask_category"})
OUT_OF_SCOPE = "out_of_scope"
# Misunderstood this many times in a row: stop asking to rephrase and offer a person.
FALLBACKS_BEFORE_HUMAN = 2


def _render_repeal_line(dispatcher: CollectingDispatcher, answer: PolicyAnswer,
                        notice: RepealNotice, several: bool) -> None:
    response = "utter_repealed" if notice.repealed_by else "utter_repealed_unreplaced"
    dispatcher.utter_message(response=f"{response}_for" if several else response,
                             law=notice.title, repealed_on=notice.repealed_on,
                             repealed_by=notice.repealed_by, question=answer.question)


def _render_repeal(dispatcher: CollectingDispatcher, answer: PolicyAnswer, notice: RepealNotice,
                   several: bool) -> None:
    """The repeal first (by what, when), then what the owner gets instead: the successor in
    force, today's rules, the labelled old text and its successor, or that none was found."""
    _render_repeal_line(dispatcher, answer, notice, several)
    if answer.kind is not AnswerKind.ANSWER:
        dispatcher.utter_message(
            response="utter_repealed_not_covered" if notice.kind is RepealKind.DOCUMENT
            else "utter_repealed_no_successor", article=notice.article)
        return
    if notice.kind is RepealKind.OLD_TEXT:
        dispatcher.utter_message(response="utter_repealed_old_text", article=notice.article,
                                 answer=answer.text, citation=answer.citation)
        if notice.current_text:
            dispatcher.utter_message(response="utter_repealed_old_text_successor",
                                     successor=notice.successor, answer=notice.current_text,
                                     citation=notice.current_citation)
        else:
            dispatcher.utter_message(response="utter_repealed_no_successor",
                                     article=notice.article)
    elif notice.kind is RepealKind.SUCCESSOR:
        dispatcher.utter_message(response="utter_repealed_successor_answer",
                                 article=notice.article, successor=notice.successor,
                                 answer=answer.text, citation=answer.citation)
    else:
        dispatcher.utter_message(response="utter_repealed_in_force_answer",
                                 answer=answer.text, citation=answer.citation)
    if notice.unreviewed:
        dispatcher.utter_message(response="utter_successor_unreviewed")


def _render_choice(dispatcher: CollectingDispatcher, answer: PolicyAnswer, several: bool) -> None:
    """Two or three plausible articles: listed, each with a button that asks for it."""
    options = "\n".join(f"{n}. {c.title}" for n, c in enumerate(answer.choices, start=1))
    dispatcher.utter_message(
        response="utter_choose_article_for" if several else "utter_choose_article",
        question=answer.question, options=options,
        buttons=[{"title": c.title, "payload": c.payload} for c in answer.choices])


def _render_not_covered(dispatcher: CollectingDispatcher, documents: Mapping[str, dict]) -> None:
    """The decline names what was searched: the documents in force, or how many."""
    utter_naming_documents(dispatcher, "utter_not_covered",
                           scope_of(documents) if documents else None)


def _render_opposite(dispatcher: CollectingDispatcher, answer: PolicyAnswer,
                     opposite: OppositeCase, several: bool) -> None:
    """The best clause is about the opposite case of the owner's: said first, then the clause
    for the owner's case (with what it leaves open), or that the text has none."""
    dispatcher.utter_message(
        response="utter_opposite_case_for" if several else "utter_opposite_case",
        question=answer.question, stated=opposite.stated, clause_case=opposite.clause_case,
        citation=opposite.citation)
    if answer.kind is not AnswerKind.ANSWER:
        dispatcher.utter_message(response="utter_opposite_case_not_covered")
    elif answer.missing:
        dispatcher.utter_message(response="utter_policy_partial_answer", answer=answer.text,
                                 citation=answer.citation, missing=answer.missing)
    else:
        dispatcher.utter_message(response="utter_opposite_case_answer", answer=answer.text,
                                 citation=answer.citation)


def _render_quote(dispatcher: CollectingDispatcher, answer: PolicyAnswer, several: bool) -> None:
    """The clause as the answer; when it leaves out what was asked (an amount, a time, a
    procedure), the reply says so first and offers a human."""
    if answer.opposite is not None:
        _render_opposite(dispatcher, answer, answer.opposite, several)
        return
    if answer.missing:
        response = "utter_policy_partial_answer_for" if several else "utter_policy_partial_answer"
    else:
        response = "utter_policy_answer_for" if several else "utter_policy_answer"
    dispatcher.utter_message(response=response, answer=answer.text, citation=answer.citation,
                             question=answer.question, missing=answer.missing)


def _render_answer(dispatcher: CollectingDispatcher, answer: PolicyAnswer, several: bool) -> None:
    if answer.kind is AnswerKind.CLARIFY:
        if answer.repeal is not None:  # "环保法…": the repeal first, then the choice in force
            _render_repeal_line(dispatcher, answer, answer.repeal, several)
        _render_choice(dispatcher, answer, several)
        return
    if answer.repeal is not None:
        _render_repeal(dispatcher, answer, answer.repeal, several)
    elif answer.kind is AnswerKind.ANSWER:
        _render_quote(dispatcher, answer, several)
    elif answer.opposite is not None:
        _render_opposite(dispatcher, answer, answer.opposite, several)
        return
    else:
        dispatcher.utter_message(response="utter_not_covered_part", question=answer.question)
        return
    if answer.kind is AnswerKind.ANSWER:
        for rule in answer.governing:
            if rule.citation:
                dispatcher.utter_message(response="utter_points_to_repealed",
                                         law=rule.repealed_title, repealed_on=rule.repealed_on,
                                         citation=rule.citation, answer=rule.text)
            else:
                dispatcher.utter_message(response="utter_points_to_repealed_unreplaced",
                                         law=rule.repealed_title, repealed_on=rule.repealed_on)
            if not rule.reviewed and rule.citation:
                dispatcher.utter_message(response="utter_successor_unreviewed")
        for citation in answer.see_also:
            dispatcher.utter_message(response="utter_policy_see_also", citation=citation)


def _answer_message(kb: KnowledgeBase, question: str, understood: bool
                    ) -> tuple[Mapping[str, dict], list[PolicyAnswer]]:
    """The documents searched and the answers to every question in the message."""
    pinned = requested_versions(question, kb.store.versions())
    if pinned:  # "2019年版怎么说": answer from that version, for audit
        with kb.audit_retriever(pinned) as retriever:
            documents = retriever.documents
            return documents, answer_message(observed(retriever.search), question, understood,
                                              documents, retriever)
    documents = kb.retriever.documents
    return documents, answer_message(observed(kb.retriever.search), question, understood,
                                     documents, kb.retriever)


class ActionAnswerPolicyQuestion(Action):
    def name(self) -> str:
        return "action_answer_policy_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        question = last_user_text(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        # Any answer moves on from an offered assessment ("好的" no longer starts it).
        events: list[dict[str, Any]] = [SlotSet(LAST_QUESTION, question),
                                        SlotSet(ASSESSMENT_OFFERED, False),
                                        SlotSet(LAST_ANSWER_PASSAGES, [])]
        understood = intent in POLICY_INTENTS
        extractor = profile_extractor()
        if tracker.get_slot(ASSESSMENT_OFFERED) and extractor.accepts_assessment(question):
            # "可以，评估一下" to the offer, which the NLU did not read as a plain yes
            return [FollowupAction(PROFILE_FORM), SlotSet(ASSESSMENT_OFFERED, False)]
        if extractor.refers_back(question) and extractor.about_own_enterprise(question) and \
                criteria_of_last_answer(dispatcher, tracker):
            # "那我们厂会被列进去吗" after an answer on a category's list: who is in it, then
            # the assessment is offered ("好的" starts it).
            dispatcher.utter_message(response="utter_offer_assessment")
            return [*events, SlotSet(ASSESSMENT_OFFERED, True), SlotSet(HUMAN_OFFERED, False),
                    SlotSet(FALLBACK_COUNT, 0)]
        try:
            # Off the event loop: the search is CPU work (segmentation, the encoder, the
            # ranker), and the action server must go on taking other users' turns meanwhile.
            documents, answers = await asyncio.to_thread(
                _answer_message, knowledge_base(), question, understood)
        except KnowledgeBaseUnavailable:
            log.exception("knowledge base unavailable for %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_kb_unavailable")
            # Nothing was answered: feedback must not pair this question with an older answer.
            return [*events, SlotSet(HUMAN_OFFERED, True), SlotSet(LAST_CITATIONS, []),
                    SlotSet(LAST_RETRIEVAL, None)]

        log.info("sender=%s intent=%s answers=%s", tracker.sender_id, intent,
                 [a.kind.value for a in answers])
        events.append(SlotSet(LAST_RETRIEVAL, [
            {"question": a.question, "outcome": a.kind.value, "evidence": a.evidence}
            for a in answers]))
        answered = [a for a in answers if a.kind is AnswerKind.ANSWER]
        if answered:
            for answer in answers:
                _render_answer(dispatcher, answer, several=len(answers) > 1)
            citations = [c for a in answered for c in a.citations]
            if extractor.asks_entitlement(question):
                # What applies to this enterprise depends on its category: offer to find it.
                dispatcher.utter_message(response="utter_offer_assessment")
                events.append(SlotSet(ASSESSMENT_OFFERED, True))
            events.append(SlotSet(LAST_ANSWER_PASSAGES,
                                  [a.passage_ids[0] for a in answered if a.passage_ids]))
            return [*events, SlotSet(HUMAN_OFFERED, False), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, citations)]

        only = answers[0]
        if intent == OUT_OF_SCOPE and only.kind is not AnswerKind.CLARIFY and only.repeal is None:
            # Neither the NLU nor the knowledge base found it covered: say what is.
            describe_scope(dispatcher, OUT_OF_SCOPE)
            return [*events, SlotSet(HUMAN_OFFERED, False), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, [])]
        if only.kind is AnswerKind.CLARIFY:
            _render_answer(dispatcher, only, several=False)
            return [*events, SlotSet(HUMAN_OFFERED, False), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, [])]
        if only.kind is AnswerKind.NOT_COVERED:
            if only.repeal is not None or only.opposite is not None:
                # the repeal (or that the clause is about the opposite case), then that nothing
                # in force answers it
                _render_answer(dispatcher, only, several=False)
            else:
                _render_not_covered(dispatcher, documents)
            # Understood (and honestly declined): the run of misunderstood turns ends here.
            return [*events, SlotSet(HUMAN_OFFERED, True), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, [])]

        if tracker.get_slot(NEEDS_HUMAN):
            # Already handed over: a person will read this; no "please rephrase" in between.
            dispatcher.utter_message(response="utter_waiting_for_human")
            return [*events, SlotSet(HUMAN_OFFERED, False), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, [])]
        misses = int(tracker.get_slot(FALLBACK_COUNT) or 0) + 1
        if misses >= FALLBACKS_BEFORE_HUMAN:
            dispatcher.utter_message(response="utter_offer_human_after_fallback")
            return [*events, SlotSet(HUMAN_OFFERED, True), SlotSet(FALLBACK_COUNT, 0),
                    SlotSet(LAST_CITATIONS, [])]
        if only.suggestions:
            dispatcher.utter_message(
                response="utter_did_you_mean",
                suggestions="、".join(f"“{s}”" for s in only.suggestions),
                buttons=[{"title": s, "payload": s} for s in only.suggestions],
            )
        else:
            dispatcher.utter_message(response="utter_did_not_understand")
        return [*events, SlotSet(HUMAN_OFFERED, False), SlotSet(FALLBACK_COUNT, misses),
                SlotSet(LAST_CITATIONS, [])]
