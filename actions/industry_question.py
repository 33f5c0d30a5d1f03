"""'我们做X的，算不算战略性新兴产业': the field it maps to (or none), with the clause, then the
offer of the full assessment. A category question that names no industry starts the form.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import last_user_text
from actions.knowledge_client import eligibility_engine, knowledge_base, profile_extractor
from conversation.slots import (
    ASSESSMENT_OFFERED,
    HUMAN_OFFERED,
    LAST_ANSWER_PASSAGES,
    LAST_CITATIONS,
)
from knowledge.eligibility.profile_extractor import UNKNOWN
from knowledge.language.question_splitter import is_question
from knowledge.models import KnowledgeBaseUnavailable

log = logging.getLogger(__name__)

PROFILE_FORM = "enterprise_profile_form"
MAX_CRITERIA = 2  # a phone screen: the categories the last answer was about, at most two


def industry_asked_about(text: str) -> tuple[str | None, dict[str, Any]]:
    """The industry a category question names (the owner's words), and every fact it states.

    None when the message asks nothing, or names no industry ("我们属于哪一类").
    """
    if not is_question(text):
        return None, {}
    classification = eligibility_engine().classify_industry(text)
    extractor = profile_extractor()
    facts = extractor.read(text, "industry", classification).facts
    description = facts.pop("industry", None)
    if description is not None and classification.unknown and \
            not extractor.describes_business(description):
        description = None  # "帮我看看能享受什么，评估一下": no business named
    if description in (None, UNKNOWN) and not classification.unknown:
        # "ＡＩ算法公司也在优先保障里吗": one clause, both question and description
        description = "、".join(dict.fromkeys(
            m.keyword.upper() if m.keyword.isascii() else m.keyword
            for m in classification.matches))
    return (description if description not in (None, UNKNOWN) else None), facts


class ActionAnswerIndustryQuestion(Action):
    def name(self) -> str:
        return "action_answer_industry_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = last_user_text(tracker)
        description, facts = industry_asked_about(text)
        if description is None:
            # "那我们厂会被列进去吗" after an answer on that list: who is in it, then the form.
            if profile_extractor().refers_back(text):
                criteria_of_last_answer(dispatcher, tracker)
            return [FollowupAction(PROFILE_FORM), SlotSet(LAST_ANSWER_PASSAGES, [])]
        try:
            finding = eligibility_engine().industry_finding(description)
        except KnowledgeBaseUnavailable:
            log.exception("industry finding failed for %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_kb_unavailable")
            return [SlotSet(HUMAN_OFFERED, True)]
        if finding.fields:
            dispatcher.utter_message(response="utter_industry_in_fields", industry=description,
                                     fields="”“".join(finding.fields),
                                     clause=finding.clause_text, citation=finding.citation)
        else:
            dispatcher.utter_message(response="utter_industry_in_no_field", industry=description,
                                     clause=finding.clause_text, citation=finding.citation)
        dispatcher.utter_message(response="utter_offer_assessment")
        # What the question stated about the enterprise is kept for the assessment.
        return [*(SlotSet(k, v) for k, v in facts.items()), SlotSet("industry", description),
                SlotSet(LAST_ANSWER_PASSAGES, []),
                SlotSet(ASSESSMENT_OFFERED, True), SlotSet(HUMAN_OFFERED, False),
                SlotSet(LAST_CITATIONS, [finding.citation])]


def criteria_of_last_answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Who the opinion puts in the category the last answer was about; False if none."""
    passage_ids = tracker.get_slot(LAST_ANSWER_PASSAGES) or []
    try:
        passage = knowledge_base().retriever.passage(passage_ids[0]) if passage_ids else None
        criteria = (eligibility_engine().category_criteria(passage.doc_id, passage.clause_key)
                    if passage is not None else [])
    except KnowledgeBaseUnavailable:
        log.exception("category criteria failed for %s", tracker.sender_id)
        return False
    for criterion in criteria[:MAX_CRITERIA]:
        dispatcher.utter_message(response="utter_category_criteria", clause=criterion.text,
                                 citation=criterion.citation)
    return bool(criteria)
