"""The enterprise profile form and the assessment it leads to.

The form asks only for facts the eligibility engine still needs to decide a category, reads
every fact a message states (several at once, or a correction), and accepts "不清楚".
Business logic stays in knowledge.eligibility; this module maps slots to a profile and back.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import last_user_text
from actions.knowledge_client import eligibility_engine, knowledge_base, profile_extractor
from conversation.slots import (
    CONFIRM_FACT,
    FACT_TO_CONFIRM,
    HUMAN_OFFERED,
    LAST_ANSWER_PASSAGES,
    LAST_ASSESSMENT,
    LAST_CITATIONS,
)
from knowledge.eligibility import ProfileError
from knowledge.eligibility.facts import KEY_PROJECT_LEVELS, SCALES
from knowledge.eligibility.profile import Profile
from knowledge.eligibility.profile_extractor import UNKNOWN, StatedFacts
from knowledge.eligibility.reply import (
    applying_reasons,
    detail_parts,
    missing_facts,
    summary_parts,
)
from knowledge.language.question_splitter import is_question
from knowledge.models import KnowledgeBaseUnavailable
from knowledge.retrieval.detail import answer_details

log = logging.getLogger(__name__)

PROFILE_SLOTS = tuple(Profile.field_order())
POLICY_QUESTION_INTENTS = frozenset({"ask_policy", "ask_measures"})
# Messages that say nothing about the enterprise: while the form asks "what do you make?",
# "谢谢你" must not become the industry. Their own rules answer them; the form asks again.
NOT_FACTS_INTENTS = frozenset({"greet", "goodbye", "thanks", "bot_challenge", "ask_capabilities",
                               "request_human", "ask_detail"})
# Messages the NLU reads as "stop", "out of scope" or a complaint may still answer the question
# asked ("不知道啊，没测过", "汽车配件", "没听说过，不清楚"); only a bare yes / no in them is not
# taken as an answer ("不用了" is not "no, procedures are incomplete").
GUARDED_INTENTS = frozenset({"stop_form", "out_of_scope", "complain"})
# ... where a bare product name ("汽车配件") is still an industry, a longer message without
# business words ("先不测了，下次再说") is not.
MAX_BARE_INDUSTRY_CHARS = 6


def profile_from_slots(tracker: Tracker) -> dict[str, Any]:
    """Slots to an engine profile; 'unknown' answers count as not known."""
    return {
        name: value
        for name in PROFILE_SLOTS
        if (value := tracker.get_slot(name)) is not None and value != UNKNOWN
    }


def _assess(tracker: Tracker) -> dict[str, Any]:
    return eligibility_engine().assess(profile_from_slots(tracker)).to_json()


class ValidateEnterpriseProfileForm(FormValidationAction):
    def name(self) -> str:
        return "validate_enterprise_profile_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Facts still needed (asked in this order), then the facts already known.

        rasa-sdk asks for the first slot in this list that has no value, and validates only
        slots in this list: known facts stay in it so that corrections are validated too.
        """
        needed = ["industry"] if tracker.get_slot("industry") is None else []
        if tracker.get_slot(FACT_TO_CONFIRM):
            needed.insert(0, CONFIRM_FACT)
        try:
            missing = _assess(tracker)["missing"]
        except (ProfileError, KnowledgeBaseUnavailable):
            log.exception("assessment failed while choosing the next question")
            missing = []
        # Asked in the order the domain's form lists them.
        order = {name: i for i, name in enumerate(domain_slots)}
        missing = sorted(missing, key=lambda f: order.get(f, len(order)))
        needed += [f for f in missing if tracker.get_slot(f) is None and f not in needed]
        known = [s for s in PROFILE_SLOTS if s not in needed and tracker.get_slot(s) is not None]
        # Listed so that setting or clearing it is kept; "" (not None) is never asked for.
        confirmation = [FACT_TO_CONFIRM] if tracker.get_slot(FACT_TO_CONFIRM) is not None else []
        return needed + known + confirmation

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Every fact in the message, whichever question was asked (and corrections).

        A policy or category question is not a statement of fact ("重污染天气预警…" says
        nothing about the enterprise, "中药企业算新兴产业吗" asks rather than tells): it is left
        to the rule that answers it and returns to the form; so are thanks, greetings and the
        other messages in NOT_FACTS_INTENTS.
        """
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = last_user_text(tracker)
        asking = is_question(text) and (
            intent in POLICY_QUESTION_INTENTS
            # A category question starts the form with whatever facts it states; once the
            # form is asking, one is a question to answer, as "算新兴产业吗" is.
            or (intent == "ask_category" and tracker.get_slot("requested_slot") is not None))
        if intent in NOT_FACTS_INTENTS or asking or not text:
            return []
        requested = tracker.get_slot("requested_slot")
        industry = eligibility_engine().classify_industry(text)
        if requested == CONFIRM_FACT:
            return self._confirmation(dispatcher, tracker, text, industry)
        stated = profile_extractor().read(text, requested, industry)
        if intent in GUARDED_INTENTS:
            extractor = profile_extractor()
            stated = StatedFacts({
                k: v for k, v in stated.facts.items()
                if (k not in stated.terse or v == UNKNOWN)
                # "先不测了，下次再说" is no industry; "汽车配件" is
                and (k != "industry" or not industry.unknown
                     or extractor.describes_business(str(v))
                     or len(str(v)) <= MAX_BARE_INDUSTRY_CHARS)})
        return self._stating(dispatcher, tracker, stated)

    @staticmethod
    def _stating(dispatcher: CollectingDispatcher, tracker: Tracker,
                 stated: StatedFacts) -> list[EventType]:
        """The facts as slots; a changed fact is said back, and a terse answer that could lead
        to an adverse verdict is queued for confirmation."""
        extractor = profile_extractor()
        changed = {k: v for k, v in stated.facts.items()
                   if tracker.get_slot(k) is not None and tracker.get_slot(k) != v}
        if changed:
            dispatcher.utter_message(response="utter_fact_corrected",
                                     facts=extractor.statements(changed))
        events: list[EventType] = [SlotSet(k, v) for k, v in stated.facts.items()]
        pending = tracker.get_slot(FACT_TO_CONFIRM)
        to_confirm = extractor.needs_confirmation(stated)
        if to_confirm:
            events.append(SlotSet(FACT_TO_CONFIRM, to_confirm))
        elif pending and pending in stated.facts:  # restated in words: nothing to confirm
            events.append(SlotSet(FACT_TO_CONFIRM, ""))
        return events

    def _confirmation(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                      industry: Any) -> list[EventType]:
        """The answer to "跟您确认一下：手续不全，对吗？"."""
        extractor = profile_extractor()
        field = tracker.get_slot(FACT_TO_CONFIRM)
        named = extractor.read(text, None, industry)
        done = SlotSet(FACT_TO_CONFIRM, "")
        if named.facts:
            # "我是说我们不是重污染，手续是齐的": the terse answer was meant otherwise; what was
            # not restated is asked again.
            events = self._stating(dispatcher, tracker, named)
            reset = [] if field in named.facts else [SlotSet(field, None)]
            return [*reset, *[e for e in events if e.get("name") != FACT_TO_CONFIRM], done]
        answer = extractor.answer(text)
        if answer == "yes":
            return [done]
        if answer == "no":
            return [SlotSet(field, None), done]
        if answer == "unknown":
            return [SlotSet(field, UNKNOWN), done]
        return []

    def validate_fact_to_confirm(self, value: Any, *_: Any) -> dict[str, Any]:
        return {FACT_TO_CONFIRM: value if value in ("", *PROFILE_SLOTS) else ""}

    def validate_industry(self, value: Any, *_: Any) -> dict[str, Any]:
        text = str(value).strip()[:200]
        return {"industry": text or None}

    def validate_scale(self, value: Any, *_: Any) -> dict[str, Any]:
        return {"scale": value if value in SCALES else None}

    def validate_key_project(self, value: Any, *_: Any) -> dict[str, Any]:
        return {"key_project": value if value in (*KEY_PROJECT_LEVELS, UNKNOWN) else None}

    def _boolean(self, name: str, value: Any) -> dict[str, Any]:
        return {name: value if isinstance(value, bool) or value == UNKNOWN else None}

    def validate_procedures_complete(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._boolean("procedures_complete", value)

    def validate_meets_emission_standards(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._boolean("meets_emission_standards", value)

    def validate_heavy_pollution(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._boolean("heavy_pollution", value)

    def validate_conforms_industrial_policy(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._boolean("conforms_industrial_policy", value)

    def validate_environmental_leader(self, value: Any, *_: Any) -> dict[str, Any]:
        return self._boolean("environmental_leader", value)


class ActionAssessEnterprise(Action):
    """Says where the enterprise stands, with citations; full clauses come on request."""

    def name(self) -> str:
        return "action_assess_enterprise"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            assessment = _assess(tracker)
        except (ProfileError, KnowledgeBaseUnavailable):
            log.exception("assessment failed for %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_kb_unavailable")
            # No assessment now: "详细说说" must not explain an earlier one.
            return [SlotSet(HUMAN_OFFERED, True), SlotSet(LAST_ASSESSMENT, None),
                    SlotSet(LAST_CITATIONS, [])]
        parts = summary_parts(assessment)
        extractor = profile_extractor()
        # Every verdict repeats the facts it rests on, in the owner's terms.
        stated = extractor.statements(
            {n: tracker.get_slot(n) for n in PROFILE_SLOTS}) or "（暂无）"
        missing = missing_facts(assessment, extractor.labels)
        if assessment["category"] is None:
            dispatcher.utter_message(response="utter_assessment_undetermined", missing=missing,
                                     stated=stated, **parts)
        else:
            dispatcher.utter_message(response="utter_assessment", stated=stated, **parts)
            if assessment["missing"]:  # only facts that could raise the category are open
                dispatcher.utter_message(
                    response="utter_assessment_could_change", missing=missing,
                    categories="、".join(assessment.get("open_categories") or ()))
        citations = [r["citation"] for r in applying_reasons(assessment)]
        return [SlotSet(LAST_ASSESSMENT, assessment), SlotSet(LAST_CITATIONS, citations),
                SlotSet(LAST_ANSWER_PASSAGES, []),
                SlotSet(HUMAN_OFFERED, False)]


class ActionAskConfirmFact(Action):
    """Repeats a terse adverse answer back before the form concludes anything from it."""

    def name(self) -> str:
        return f"action_ask_{CONFIRM_FACT}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        field = tracker.get_slot(FACT_TO_CONFIRM)
        fact = profile_extractor().statement(field, tracker.get_slot(field)) if field else ""
        dispatcher.utter_message(response="utter_confirm_fact", fact=fact)
        return []


def explain_policy_answer(dispatcher: CollectingDispatcher, tracker: Tracker,
                          passages: list[str]) -> list[EventType]:
    """The whole clauses the last answer quoted from, and the law articles they rest on."""
    try:
        kb = knowledge_base()
        details = answer_details(kb.retriever, kb.store, passages)
    except KnowledgeBaseUnavailable:
        log.exception("answer detail failed for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_kb_unavailable")
        return [SlotSet(HUMAN_OFFERED, True)]
    if not details:  # a publish since: the quoted text may have changed
        dispatcher.utter_message(response="utter_no_assessment_yet")
        return []
    for detail in details:
        # ("text" would replace the response: utter_message's own argument)
        dispatcher.utter_message(response="utter_answer_detail", clause=detail.text,
                                 citation=detail.citation)
        for basis in detail.basis:
            dispatcher.utter_message(response="utter_answer_basis", citation=basis.citation,
                                     clause=basis.text)
    if not any(d.basis for d in details):
        dispatcher.utter_message(response="utter_answer_no_more_detail")
    return []


class ActionExplainAssessment(Action):
    """'详细说说': more of the last answer (a policy answer's whole clauses and their legal
    basis), or the clause texts behind the last assessment."""

    def name(self) -> str:
        return "action_explain_assessment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        passages = tracker.get_slot(LAST_ANSWER_PASSAGES) or []
        if passages:  # the last answer was a policy answer: more of what it quoted
            return explain_policy_answer(dispatcher, tracker, passages)
        assessment = tracker.get_slot(LAST_ASSESSMENT)
        if not assessment:
            dispatcher.utter_message(response="utter_no_assessment_yet")
            return []
        parts = detail_parts(assessment)
        if not parts:  # nothing decided yet: no clause is relied on
            dispatcher.utter_message(
                response="utter_assessment_detail_undetermined",
                missing=missing_facts(assessment, profile_extractor().labels))
        for part in parts:
            dispatcher.utter_message(text=part)
        return []


class ActionResetProfile(Action):
    """Clears the profile so that the owner can start the assessment again."""

    def name(self) -> str:
        return "action_reset_profile"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(name, None) for name in PROFILE_SLOTS]
