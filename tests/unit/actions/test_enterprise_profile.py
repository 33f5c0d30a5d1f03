"""The enterprise profile form's validation action, the assessment it leads to, the
explanation of that assessment and the reset of the profile, over the real opinion."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.enterprise_profile import (
    PROFILE_SLOTS,
    ActionAskConfirmFact,
    ActionAssessEnterprise,
    ActionExplainAssessment,
    ActionResetProfile,
    ValidateEnterpriseProfileForm,
    profile_from_slots,
)

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
COMPLIANCE = ["procedures_complete", "meets_emission_standards", "heavy_pollution",
              "conforms_industrial_policy"]
ADVERSE = ("关停取缔", "错峰生产")


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


# -- the form: which question comes next ----------------------------------------------------
def test_form_start_asks_for_the_industry_first(kb_env, load_tracker, run_action,
                                                dispatcher) -> None:
    events = run_action(ValidateEnterpriseProfileForm(), load_tracker("form_started"))
    # Every fact is missing, in the domain's order: rasa-sdk then leaves the asking to Rasa's
    # form, which asks the domain's first slot, the industry.
    assert events == []
    assert dispatcher.messages == []  # Rasa asks with utter_ask_industry


def test_category_question_that_starts_the_form_gives_the_facts_it_states(
    kb_env, load_tracker, run_action
) -> None:
    text = "我们是做锂电池的小企业，算不算新兴产业？"
    events = run_action(ValidateEnterpriseProfileForm(), load_tracker("form_started", text=text))
    assert events == [SlotSet("scale", "small"), SlotSet("industry", "我们是做锂电池的小企业"),
                      SlotSet("requested_slot", "procedures_complete")]


@pytest.mark.parametrize(("industry", "asked"), [
    # A strategic industry is in the priority range already: only compliance can change that.
    ("石墨烯材料", COMPLIANCE),
    ("家具厂", [*COMPLIANCE, "key_project", "environmental_leader"]),  # domain order
])
def test_form_asks_only_the_facts_the_engine_still_needs(
    kb_env, load_tracker, dispatcher, domain, industry: str, asked: list[str]
) -> None:
    form = ValidateEnterpriseProfileForm()
    tracker = load_tracker("form_asks_procedures", industry=industry)
    required = asyncio.run(form.required_slots(form.domain_slots(domain), dispatcher, tracker,
                                               domain))
    # Unasked facts first (the form asks the first without a value), then the known ones,
    # which stay in the list so that corrections to them are validated too.
    assert required == [*asked, "industry"]


# -- the form: reading the owner's answers --------------------------------------------------
def test_one_message_fills_every_fact_it_states(kb_env, load_tracker, run_action) -> None:
    events = run_action(ValidateEnterpriseProfileForm(), load_tracker("form_asks_industry"))

    assert slot_values(events) == {
        "scale": "small", "procedures_complete": True, "meets_emission_standards": True,
        "industry": "我们是做石墨烯材料的小企业",  # the clause that describes it
        "requested_slot": "heavy_pollution",  # the first fact not yet stated
    }
    assert events[-1] == SlotSet("requested_slot", "heavy_pollution")


@pytest.mark.parametrize(("reply", "value", "next_question"), [
    ("手续齐全", True, "meets_emission_standards"),
    ("是", True, "meets_emission_standards"),
    ("不清楚", "unknown", "meets_emission_standards"),
    ("不知道", "unknown", "meets_emission_standards"),
    ("都办了", True, "meets_emission_standards"),
    # Incomplete procedures, stated in words, decide the category (closure): nothing more.
    ("手续不全", False, None),
])
def test_answer_to_the_procedures_question_sets_the_slot(
    kb_env, load_tracker, run_action, reply: str, value: Any, next_question: str | None
) -> None:
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_procedures", text=reply))
    assert events == [SlotSet("procedures_complete", value),
                      SlotSet("requested_slot", next_question)]


def test_a_terse_adverse_answer_is_repeated_back_before_anything_is_concluded(
    kb_env, load_tracker, run_action
) -> None:
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_procedures", text="否", intent="deny"))
    assert events == [SlotSet("procedures_complete", False),
                      SlotSet("fact_to_confirm", "procedures_complete"),
                      SlotSet("requested_slot", "confirm_fact")]


def test_the_confirmation_question_repeats_the_fact(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    tracker = load_tracker("form_asks_procedures", procedures_complete=False,
                           fact_to_confirm="procedures_complete", requested_slot="confirm_fact")
    run_action(ActionAskConfirmFact(), tracker)
    [message] = dispatcher.messages
    assert message["response"] == "utter_confirm_fact" and message["fact"] == "手续不全"


@pytest.mark.parametrize(("reply", "slots"), [
    # Confirmed: the fact stands, and with it the verdict (nothing more to ask).
    ("对的", {"fact_to_confirm": "", "requested_slot": None}),
    # Not meant: the question is asked again.
    ("不对", {"procedures_complete": None, "fact_to_confirm": "",
             "requested_slot": "procedures_complete"}),
    # Meant for another question: what is restated is kept, the rest asked again.
    ("我是说我们不是重污染，手续是齐的",
     {"heavy_pollution": False, "procedures_complete": True, "fact_to_confirm": "",
      "requested_slot": "meets_emission_standards"}),
    # Not an answer: the confirmation is asked again.
    ("哈哈", {"requested_slot": "confirm_fact"}),
])
def test_the_answer_to_a_confirmation(
    kb_env, load_tracker, run_action, dispatcher, reply: str, slots: dict[str, Any]
) -> None:
    tracker = load_tracker("form_asks_procedures", text=reply, procedures_complete=False,
                           fact_to_confirm="procedures_complete", requested_slot="confirm_fact")
    events = run_action(ValidateEnterpriseProfileForm(), tracker)
    assert slot_values(events) == slots
    if "手续是齐的" in reply:  # a changed fact is said back
        [message] = dispatcher.messages
        assert message["response"] == "utter_fact_corrected"
        assert message["facts"] == "手续齐全"


def test_a_correction_is_said_back(kb_env, load_tracker, run_action, dispatcher) -> None:
    tracker = load_tracker("form_asks_procedures", text="哦不对，排污许可证还没下来",
                           procedures_complete=True, meets_emission_standards=True,
                           requested_slot="heavy_pollution")
    events = run_action(ValidateEnterpriseProfileForm(), tracker)
    assert slot_values(events)["procedures_complete"] is False
    [message] = dispatcher.messages
    assert message["response"] == "utter_fact_corrected" and message["facts"] == "手续不全"


@pytest.mark.parametrize(("text", "intent", "slots"), [
    # The NLU heard "stop", but the owner answered the question.
    ("不知道啊，没测过", "stop_form", {"meets_emission_standards": "unknown"}),
    # ... and a real stop is not a "no".
    ("不用了", "stop_form", {}),
    # The NLU heard "out of scope", but it is the industry asked for.
    ("汽车配件", "out_of_scope", {"industry": "汽车配件"}),
])
def test_answers_the_nlu_misread_still_fill_the_form(
    kb_env, load_tracker, run_action, text: str, intent: str, slots: dict[str, Any]
) -> None:
    requested = next(iter(slots), "meets_emission_standards")
    tracker = load_tracker("form_asks_procedures", text=text, intent=intent,
                           procedures_complete=True, requested_slot=requested,
                           industry=None if requested == "industry" else "石墨烯材料")
    events = run_action(ValidateEnterpriseProfileForm(), tracker)
    assert {k: v for k, v in slot_values(events).items() if k != "requested_slot"} == slots


def test_facts_stated_out_of_turn_are_kept_and_the_question_asked_again(
    kb_env, load_tracker, run_action
) -> None:
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_procedures", text="我们污染不大，符合产业政策"))
    assert events == [SlotSet("heavy_pollution", False),
                      SlotSet("conforms_industrial_policy", True),
                      SlotSet("requested_slot", "procedures_complete")]


@pytest.mark.parametrize(("reply", "intent"), [
    ("这个要看情况", "inform_enterprise"),
    ("谢谢你", "thanks"),
    # "不对" as a complaint about the last reply, not "no, procedures are incomplete".
    ("不对", "complain"),
    # Questions are answered by their own rules, then the form asks again.
    ("重污染天气预警提前几天发布？", "ask_policy"),
    ("手续不全的企业会怎么样？", "ask_policy"),  # asks about the phrase, does not state it
    ("中药企业算新兴产业吗", "ask_category"),
    ("锂电池算不算新兴产业？", "ask_category"),  # names a strategic field, yet asks
])
def test_reply_that_does_not_answer_gets_the_same_question_again(
    kb_env, load_tracker, run_action, reply: str, intent: str
) -> None:
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_procedures", text=reply, intent=intent))
    assert events == [SlotSet("requested_slot", "procedures_complete")]


@pytest.mark.parametrize(("reply", "intent", "events"), [
    ("谢谢你", "thanks", []),  # nothing known: Rasa's form asks its first slot again
    ("不清楚", "inform_enterprise", [SlotSet("industry", "unknown"),
                                     SlotSet("requested_slot", "procedures_complete")]),
])
def test_industry_question_ignores_thanks_and_accepts_dont_know(
    kb_env, load_tracker, run_action, reply: str, intent: str, events: list[dict]
) -> None:
    tracker = load_tracker("form_asks_industry", text=reply, intent=intent)
    assert run_action(ValidateEnterpriseProfileForm(), tracker) == events


@pytest.mark.parametrize(("reply", "value"), [
    ("国家重点项目", "national"),
    ("省重点项目", "provincial"),
    ("不是重点项目", "none"),
    ("不是", "none"),
    ("不清楚", "unknown"),
])
def test_answer_to_the_last_question_sets_the_slot_and_ends_the_form(
    kb_env, load_tracker, run_action, reply: str, value: str
) -> None:
    # The key project question comes last (after environmental_leader, in profile order).
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_key_project", text=reply))
    assert events == [SlotSet("key_project", value), SlotSet("requested_slot", None)]


def test_bare_yes_to_the_key_project_question_is_asked_again(
    kb_env, load_tracker, run_action
) -> None:
    # "是" does not say which level (national, provincial, municipal).
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_asks_key_project", text="是"))
    assert events == [SlotSet("requested_slot", "key_project")]


@pytest.mark.parametrize(("reply", "corrected"), [
    ("不对，我们是中型企业", SlotSet("scale", "medium")),
    ("更正一下，环评还没批下来", SlotSet("procedures_complete", False)),
])
def test_correction_of_a_known_fact_replaces_it(
    kb_env, load_tracker, run_action, reply: str, corrected: dict
) -> None:
    events = run_action(ValidateEnterpriseProfileForm(),
                        load_tracker("form_correction", text=reply))
    assert events == [corrected, SlotSet("requested_slot", None)]


@pytest.mark.parametrize(("method", "value", "expected"), [
    ("validate_scale", "medium", "medium"),
    ("validate_scale", "huge", None),
    ("validate_key_project", "municipal", "municipal"),
    ("validate_key_project", "unknown", "unknown"),
    ("validate_key_project", "yes", None),
    ("validate_procedures_complete", True, True),
    ("validate_procedures_complete", "unknown", "unknown"),
    ("validate_procedures_complete", "是", None),  # only the extractor's values, not words
    ("validate_environmental_leader", 1, None),
    ("validate_industry", "  光伏组件 ", "光伏组件"),
    ("validate_industry", "   ", None),
])
def test_validation_rejects_values_the_engine_cannot_use(
    method: str, value: Any, expected: Any
) -> None:
    slot = method.removeprefix("validate_")
    assert getattr(ValidateEnterpriseProfileForm(), method)(value) == {slot: expected}


def test_industry_description_is_cut_to_what_the_profile_accepts() -> None:
    result = ValidateEnterpriseProfileForm().validate_industry("石墨烯" * 100)
    assert len(result["industry"]) == 200


def test_form_with_an_unavailable_knowledge_base_stops_asking_once_the_industry_is_known(
    unavailable_kb, load_tracker, run_action, caplog
) -> None:
    with caplog.at_level(logging.ERROR, logger="actions.enterprise_profile"):
        events = run_action(ValidateEnterpriseProfileForm(),
                            load_tracker("form_asks_industry", text="做家具的"))
    # The form ends; the assessment that follows apologises (see the assessment test below).
    assert events == [SlotSet("industry", "做家具的"), SlotSet("requested_slot", None)]
    assert "assessment failed while choosing the next question" in caplog.text


# -- the assessment -------------------------------------------------------------------------
def test_unknown_answers_are_not_facts_for_the_engine(load_tracker) -> None:
    tracker = load_tracker("assess_procedures_unconfirmed")
    assert profile_from_slots(tracker) == {
        "industry": "石墨烯材料", "meets_emission_standards": True, "heavy_pollution": False,
        "conforms_industrial_policy": True}


def test_complete_strategic_profile_is_assessed_priority_with_its_basis(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAssessEnterprise(), load_tracker("assess_strategic_complete"))

    [message] = dispatcher.messages
    assert message["response"] == "utter_assessment"
    text = render(message)
    assert text.startswith("您说：“石墨烯材料”、小型企业、手续齐全、能稳定达标排放、污染不重、符合产业政策。\n"
                           "您的企业在优先服务保障范围内")
    assert "（依据工作原则 第1条）" in text  # the clause the verdict rests on
    assert "绿色通道" in message["measures"] and "（工作任务 第1条）" in message["measures"]
    assert "主管部门认定为准" in text
    assert not any(word in text for word in ADVERSE)

    slots = slot_values(events)
    assert slots["last_assessment"]["category"] == "priority"
    assert slots["last_assessment"]["missing"] == []
    assert f"{DOC}工作原则 第1条" in slots["last_citations"]
    assert all(c.startswith(DOC) for c in slots["last_citations"])
    assert slots["human_offered"] is False


def test_incomplete_procedures_are_assessed_closure_citing_the_clause(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionAssessEnterprise(), load_tracker("assess_incomplete_procedures"))

    [message] = dispatcher.messages
    assert message["response"] == "utter_assessment"
    assert "关停取缔" in message["summary"]
    assert message["basis"] == "工作原则 第2条"
    assert slot_values(events)["last_assessment"]["category"] == "closure"


def test_overridden_rule_is_not_cited(kb_env, load_tracker, run_action) -> None:
    # A strategic industry (priority) with incomplete procedures: closure wins.
    events = run_action(ActionAssessEnterprise(),
                        load_tracker("assess_strategic_incomplete_procedures"))
    slots = slot_values(events)
    reasons = {r["rule"]: r["effect"] for r in slots["last_assessment"]["reasons"]}
    assert reasons["priority_strategic_industry"] == "overridden"
    assert slots["last_assessment"]["category"] == "closure"
    assert f"{DOC}工作原则 第2条" in slots["last_citations"]
    assert f"{DOC}工作原则 第1条" not in slots["last_citations"]


@pytest.mark.parametrize(("fixture", "field", "label"), [
    ("assess_procedures_unconfirmed", "procedures_complete", "环评、排污许可等手续是否齐全"),
    ("assess_emissions_unconfirmed", "meets_emission_standards", "能否稳定达标排放"),
])
def test_unconfirmed_fact_gets_no_verdict_but_the_fact_still_needed(
    kb_env, load_tracker, run_action, dispatcher, render, fixture: str, field: str, label: str
) -> None:
    events = run_action(ActionAssessEnterprise(), load_tracker(fixture))

    [message] = dispatcher.messages
    assert message["response"] == "utter_assessment_undetermined"
    assert message["missing"] == label
    text = render(message)
    assert f"还需要了解：{label}。" in text
    assert not any(word in text for word in ADVERSE)
    assessment = slot_values(events)["last_assessment"]
    assert assessment["category"] is None
    assert assessment["missing"] == [field]


def test_assessment_with_an_unavailable_knowledge_base_apologises_and_offers_a_human(
    unavailable_kb, load_tracker, run_action, dispatcher, caplog
) -> None:
    with caplog.at_level(logging.ERROR, logger="actions.enterprise_profile"):
        events = run_action(ActionAssessEnterprise(), load_tracker("assess_strategic_complete"))
    assert responses(dispatcher) == ["utter_kb_unavailable"]
    # No assessment now, so "详细说说" cannot explain an earlier one.
    assert events == [SlotSet("human_offered", True), SlotSet("last_assessment", None),
                      SlotSet("last_citations", [])]
    assert "assessment failed for owner-graphene" in caplog.text


def test_invalid_slot_value_gets_the_same_apology_not_a_traceback(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    tracker = load_tracker("assess_strategic_complete", procedures_complete="yes")
    assert run_action(ActionAssessEnterprise(), tracker) == [
        SlotSet("human_offered", True), SlotSet("last_assessment", None),
        SlotSet("last_citations", [])]
    assert responses(dispatcher) == ["utter_kb_unavailable"]


# -- "详细说说" and starting again -------------------------------------------------------------
@pytest.mark.parametrize(("fixture", "never_said"), [
    ("assess_emissions_unconfirmed", "意见要求错峰生产"),  # waits for the emissions answer
    ("assess_procedures_unconfirmed", "在优先保障范围内"),  # waits for the procedures
])
def test_detail_of_an_undetermined_assessment_states_no_verdict(
    kb_env, load_tracker, run_action, dispatcher, render, fixture, never_said
) -> None:
    assessed = run_action(ActionAssessEnterprise(), load_tracker(fixture))
    assessment = slot_values(assessed)["last_assessment"]
    assert assessment["category"] is None and assessment["missing"]
    dispatcher.messages.clear()

    run_action(ActionExplainAssessment(), load_tracker("ask_detail", last_assessment=assessment))

    pending = [r["reason"] for r in assessment["reasons"] if r["effect"] == "pending"]
    assert any(never_said in r for r in pending)
    shown = "\n".join(render(m) for m in dispatcher.messages)
    assert not any(r in shown for r in pending)  # a pending verdict is not presented as applying
    assert "暂不能判断" in shown  # what is said instead: not decided yet, with its clause


def test_detail_with_nothing_decided_and_no_hint_names_the_missing_facts(
    load_tracker, run_action, dispatcher, render
) -> None:
    pending = {"category": None, "missing": ["procedures_complete"], "reasons": [
        {"rule": "r", "effect": "pending", "reason": "在优先保障范围内。", "citation": "《意见》x",
         "clause_text": "..."}]}
    run_action(ActionExplainAssessment(), load_tracker("ask_detail", last_assessment=pending))
    assert responses(dispatcher) == ["utter_assessment_detail_undetermined"]
    shown = render(dispatcher.messages[0])
    assert "优先保障" not in shown and "还需要了解" in shown



def test_detail_without_an_assessment_says_there_is_none_yet(
    load_tracker, run_action, dispatcher
) -> None:
    assert run_action(ActionExplainAssessment(), load_tracker("ask_detail")) == []
    assert responses(dispatcher) == ["utter_no_assessment_yet"]


def test_detail_quotes_the_clauses_the_assessment_rests_on(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    assessed = run_action(ActionAssessEnterprise(),
                          load_tracker("assess_strategic_incomplete_procedures"))
    dispatcher.messages.clear()
    assessment = slot_values(assessed)["last_assessment"]

    events = run_action(ActionExplainAssessment(),
                        load_tracker("ask_detail", last_assessment=assessment))

    assert events == []
    texts = [m["text"] for m in dispatcher.messages]
    assert texts[0].startswith("手续不全的企业，意见要求依法关停取缔。\n")
    assert f"依据{DOC}工作原则 第2条：\n" in texts[0]
    assert "坚决依法关停取缔" in texts[0]  # the clause text itself
    # One message per reason relied on; the overridden priority reason is left out.
    relied_on = [r for r in assessment["reasons"] if r["effect"] != "overridden"]
    assert len(texts) == len(relied_on) < len(assessment["reasons"])
    assert not any("优先保障范围内" in t for t in texts)


def test_reset_clears_every_profile_slot_and_nothing_else(
    load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionResetProfile(), load_tracker("stop_form"))
    assert events == [SlotSet(name, None) for name in PROFILE_SLOTS]
    assert set(PROFILE_SLOTS) == {"industry", "scale", "procedures_complete",
                                  "meets_emission_standards", "heavy_pollution",
                                  "conforms_industrial_policy", "environmental_leader",
                                  "key_project", "violations"}
    assert dispatcher.messages == []


# -- "详细说说" after a policy answer ---------------------------------------------------------
def test_detail_after_a_policy_answer_gives_the_whole_clause(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    """The answer quoted one sentence of 工作原则 第2条; the detail is the whole clause, even
    with an older assessment in the conversation."""
    hit = kb_env.retriever.search("不能稳定达标排放的企业会被关停取缔吗").hits[0]
    assert hit.passage.clause_key == "工作原则/2"
    tracker = load_tracker("ask_detail", last_answer_passages=[hit.passage.passage_id],
                           last_assessment={"category": "priority", "reasons": []})
    run_action(ActionExplainAssessment(), tracker)
    texts = [render(m) for m in dispatcher.messages]
    assert dispatcher.messages[0]["response"] == "utter_answer_detail"
    assert "实行分类监督管理" in texts[0] and "坚决依法关停取缔" in texts[0]  # all four sentences
    assert f"——出自{DOC}工作原则 第2条" in texts[0]
    assert not any("优先服务保障范围内" in t for t in texts)  # not the old assessment


def test_detail_of_a_passage_no_longer_served_quotes_nothing(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    run_action(ActionExplainAssessment(),
               load_tracker("ask_detail", last_answer_passages=["gone-passage"]))
    assert responses(dispatcher) == ["utter_no_assessment_yet"]
