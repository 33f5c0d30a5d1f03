"""action_answer_policy_question: cited answers, declines, the two-stage fallback, and an
unavailable knowledge base, over the real opinion."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.policy_answer import ActionAnswerPolicyQuestion
from knowledge.knowledge_base import KnowledgeBase

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
GREEN_CHANNEL = f"{DOC}工作任务 第1条（制定正向鼓励清单）"
EARLY_WARNING = f"{DOC}工作任务 第2条（优化应急减排措施）"


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


def test_policy_question_gets_the_clause_text_and_its_citation(
    kb_env: KnowledgeBase, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("policy_question"))

    [message] = dispatcher.messages
    assert message["response"] == "utter_policy_answer"
    assert "开通“绿色通道”，优化审批服务流程" in message["answer"]
    assert message["citation"] == GREEN_CHANNEL
    assert render(message).endswith(f"——出自{GREEN_CHANNEL}")

    slots = slot_values(events)
    assert slots["last_question"] == "审批有没有绿色通道？"
    assert slots["last_citations"] == [GREEN_CHANNEL]
    # An answer withdraws an earlier offer of a human and ends a run of misunderstandings.
    assert slots["human_offered"] is False
    assert slots["fallback_count"] == 0
    [retrieval] = slots["last_retrieval"]
    assert retrieval["question"] == "审批有没有绿色通道？"
    assert retrieval["outcome"] == "answer"
    assert retrieval["evidence"][0]["citation"] == GREEN_CHANNEL
    assert retrieval["evidence"][0]["passage_id"].startswith(
        "hebei-differentiated-control-opinion@2019#工作任务/1#")
    assert retrieval["evidence"][0]["generation"] == kb_env.retriever.generation


def test_question_typed_in_traditional_characters_is_answered_and_recorded_as_typed(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("policy_question_traditional"))

    [message] = dispatcher.messages
    assert message["citation"] == f"{DOC}工作任务 第3条（科学有效错峰生产）"
    assert "错峰生产企业清单" in message["answer"]
    # Staff review reads what the owner typed, not the NLU's normalised text.
    assert slot_values(events)["last_question"] == "錯峰生產企業清單怎麼定"


def test_low_nlu_confidence_does_not_stop_a_covered_question_being_answered(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    run_action(ActionAnswerPolicyQuestion(), load_tracker("policy_question", intent="nlu_fallback"))
    assert responses(dispatcher) == ["utter_policy_answer"]
    assert dispatcher.messages[0]["citation"] == GREEN_CHANNEL


def test_two_questions_in_one_message_get_two_cited_answers_in_order(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("two_policy_questions"))

    assert responses(dispatcher) == ["utter_policy_answer_for", "utter_policy_answer_for"]
    first, second = dispatcher.messages
    assert (first["question"], first["citation"]) == ("重污染天气预警提前几天发布？", EARLY_WARNING)
    assert "提前1至2天发布预警信息" in first["answer"]
    assert (second["question"], second["citation"]) == ("审批有没有绿色通道？", GREEN_CHANNEL)
    assert render(first).startswith("关于“重污染天气预警提前几天发布？”：\n")

    slots = slot_values(events)
    assert slots["last_citations"] == [EARLY_WARNING, GREEN_CHANNEL]
    assert [r["outcome"] for r in slots["last_retrieval"]] == ["answer", "answer"]


def test_questions_joined_by_a_comma_get_one_cited_answer_each(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    tracker = load_tracker("two_policy_questions", text="审批能走绿色通道吗，重污染预警提前几天发")
    events = run_action(ActionAnswerPolicyQuestion(), tracker)

    assert responses(dispatcher) == ["utter_policy_answer_for", "utter_policy_answer_for"]
    first, second = dispatcher.messages
    assert (first["question"], first["citation"]) == ("审批能走绿色通道吗", GREEN_CHANNEL)
    assert (second["question"], second["citation"]) == ("重污染预警提前几天发", EARLY_WARNING)
    assert slot_values(events)["last_citations"] == [GREEN_CHANNEL, EARLY_WARNING]


def test_an_answer_that_leaves_out_the_amount_asked_says_so_and_offers_a_human(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(),
                        load_tracker("policy_question", text="环保财税政策能补贴多少钱"))

    assert responses(dispatcher) == ["utter_policy_partial_answer"]
    [message] = dispatcher.messages
    assert message["missing"] == "金额" and message["citation"] == GREEN_CHANNEL
    text = render(message)
    assert text.startswith("文件里没有写明金额")
    assert "落实各项环保财税政策" in text and "转人工" in text
    assert slot_values(events)["last_citations"] == [GREEN_CHANNEL]


def test_a_compliant_owner_is_told_the_closure_clause_is_about_the_opposite_case(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    run_action(ActionAnswerPolicyQuestion(),
               load_tracker("policy_question", text="我们排放一直达标，会不会也被停产"))

    assert responses(dispatcher) == ["utter_opposite_case", "utter_opposite_case_answer"]
    opposite, answer = dispatcher.messages
    assert render(opposite) == ("您说排放达标。工作原则 第2条（落实分类差别管控）讲的是"
                                "不能稳定达标排放或超标排放的企业，和您说的情况相反。")
    assert "一律关停" in answer["answer"]
    assert answer["citation"] == f"{DOC}工作任务 第4条（完善执法监管机制）"
    assert "关停取缔" not in render(answer)


def test_uncovered_part_of_a_message_is_said_to_be_uncovered_without_a_citation(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(),
                        load_tracker("covered_and_uncovered_questions"))

    assert responses(dispatcher) == ["utter_policy_answer_for", "utter_not_covered_part"]
    answered, uncovered = dispatcher.messages
    assert answered["citation"] == GREEN_CHANNEL
    assert uncovered["question"] == "碳排放配额怎么分配？"
    assert "citation" not in uncovered and DOC not in render(uncovered)

    slots = slot_values(events)
    assert slots["last_citations"] == [GREEN_CHANNEL]
    assert [(r["question"], r["outcome"]) for r in slots["last_retrieval"]] == [
        ("审批有没有绿色通道？", "answer"), ("碳排放配额怎么分配？", "not_covered")]


def test_a_close_second_clause_is_mentioned_as_see_also(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("policy_question_with_see_also"))

    assert responses(dispatcher) == ["utter_policy_answer", "utter_policy_see_also"]
    answer, see_also = dispatcher.messages
    enforcement = f"{DOC}工作任务 第4条（完善执法监管机制）"
    precise = f"{DOC}工作原则 第3条（实施精准执法监管）"
    assert answer["citation"] == enforcement
    assert "法制审核" in answer["answer"]
    assert render(see_also) == f"相关规定另见{precise}。"
    assert slot_values(events)["last_citations"] == [enforcement, precise]


def test_question_naming_a_version_is_answered_from_an_audit_index_of_that_version(
    kb_env: KnowledgeBase, load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("question_naming_a_version"))

    [message] = dispatcher.messages
    # Only the 2019 version is published, so its citations carry no version mark.
    assert message["citation"] == EARLY_WARNING
    assert "提前1至2天" in message["answer"]
    [retrieval] = slot_values(events)["last_retrieval"]
    generation = retrieval["evidence"][0]["generation"]
    assert generation and generation != kb_env.retriever.generation


@pytest.mark.parametrize("fixture", ["question_about_another_province",
                                     "question_outside_the_policy"])
def test_out_of_scope_question_gets_the_decline_and_an_offer_of_a_human_not_a_citation(
    kb_env, load_tracker, run_action, dispatcher, render, fixture: str
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker(fixture))

    assert responses(dispatcher) == ["utter_not_covered"]
    [message] = dispatcher.messages
    assert "citation" not in message
    # The decline names what was searched (the opinion by its short title), never a clause.
    assert "现行的《差别化管控意见》里没有找到" in render(message)
    assert "——出自" not in render(message) and "第" not in render(message)
    assert "转人工吗" in render(message)
    slots = slot_values(events)
    assert slots["human_offered"] is True
    assert slots["last_citations"] == []
    assert [r["outcome"] for r in slots["last_retrieval"]] == ["not_covered"]


def test_out_of_scope_question_ends_the_run_of_misunderstood_turns(
    kb_env, load_tracker, run_action
) -> None:
    # The count is of consecutive misunderstood turns: an understood question, even one the
    # policy does not cover, resets it, so the next miss does not offer a human at once.
    events = run_action(ActionAnswerPolicyQuestion(),
                        load_tracker("question_outside_the_policy", fallback_count=1))
    assert slot_values(events)["fallback_count"] == 0


def test_vague_message_near_some_clauses_is_asked_did_you_mean_with_buttons(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("nlu_fallback_near_clauses"))

    assert responses(dispatcher) == ["utter_did_you_mean"]
    [message] = dispatcher.messages
    titles = [b["title"] for b in message["buttons"]]
    assert "实施精准执法监管" in titles and len(titles) <= 3
    assert all(b["payload"] == b["title"] for b in message["buttons"])
    assert message["suggestions"] == "、".join(f"“{t}”" for t in titles)
    assert "《" not in render(message)
    slots = slot_values(events)
    assert (slots["fallback_count"], slots["human_offered"]) == (1, False)
    assert slots["last_citations"] == []
    assert [r["outcome"] for r in slots["last_retrieval"]] == ["not_understood"]


def test_gibberish_is_asked_to_be_rephrased(kb_env, load_tracker, run_action, dispatcher) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("nlu_fallback_gibberish"))

    assert responses(dispatcher) == ["utter_did_not_understand"]
    assert dispatcher.messages[0]["buttons"] == []
    slots = slot_values(events)
    assert (slots["fallback_count"], slots["human_offered"]) == (1, False)


def test_once_handed_over_a_misunderstood_message_waits_for_the_person(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    """After "转人工" a person reads what follows: no "please rephrase" in between."""
    events = run_action(ActionAnswerPolicyQuestion(),
                        load_tracker("nlu_fallback_gibberish", needs_human=True))
    assert responses(dispatcher) == ["utter_waiting_for_human"]
    assert slot_values(events)["fallback_count"] == 0


def test_second_misunderstanding_in_a_row_offers_a_human(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionAnswerPolicyQuestion(), load_tracker("nlu_fallback_second_miss"))

    assert responses(dispatcher) == ["utter_offer_human_after_fallback"]
    slots = slot_values(events)
    assert (slots["human_offered"], slots["fallback_count"]) == (True, 0)
    assert slots["last_citations"] == []


def test_unavailable_knowledge_base_gets_the_polite_retry_not_a_traceback(
    unavailable_kb, load_tracker, run_action, dispatcher, render, caplog
) -> None:
    tracker = load_tracker("policy_question", last_citations=[GREEN_CHANNEL])
    with caplog.at_level(logging.ERROR, logger="actions.policy_answer"):
        events = run_action(ActionAnswerPolicyQuestion(), tracker)

    assert responses(dispatcher) == ["utter_kb_unavailable"]
    assert "稍后再试" in render(dispatcher.messages[0])
    # Nothing was answered: the previous answer's citations are cleared, so feedback now
    # cannot pair this question with them.
    assert events == [SlotSet("last_question", "审批有没有绿色通道？"),
                      SlotSet("assessment_offered", False),
                      SlotSet("last_answer_passages", []), SlotSet("human_offered", True),
                      SlotSet("last_citations", []),
                      SlotSet("last_retrieval", None)]
    assert "knowledge base unavailable for owner-policy" in caplog.text


def test_a_question_about_our_place_in_the_last_answer_gets_who_is_in_it_and_an_offer(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    """'那我们厂会被列进去吗' after the staggered-production list, whatever the NLU made of it."""
    hit = kb_env.retriever.search("错峰生产企业清单").hits[0]
    tracker = load_tracker("policy_question", text="那我们厂会被列进去吗", intent="nlu_fallback",
                           last_answer_passages=[hit.passage.passage_id])
    events = run_action(ActionAnswerPolicyQuestion(), tracker)
    assert responses(dispatcher) == ["utter_category_criteria", "utter_offer_assessment"]
    assert "排放总量大" in render(dispatcher.messages[0])
    assert slot_values(events)["assessment_offered"] is True


def test_what_our_enterprise_can_get_is_answered_then_the_assessment_offered(
    kb_env, load_tracker, run_action, dispatcher
) -> None:
    tracker = load_tracker("policy_question", text="我们厂审批能享受绿色通道吗", intent="ask_measures")
    events = run_action(ActionAnswerPolicyQuestion(), tracker)
    assert responses(dispatcher)[-1] == "utter_offer_assessment"
    assert "utter_policy_answer" in responses(dispatcher)
    assert slot_values(events)["assessment_offered"] is True


@pytest.mark.parametrize(("text", "starts"), [("可以，评估一下", True), ("行", True),
                                              ("审批有没有绿色通道？", False)])
def test_a_reply_accepting_the_offered_assessment_starts_it(
    kb_env, load_tracker, run_action, dispatcher, text: str, starts: bool
) -> None:
    tracker = load_tracker("policy_question", text=text, intent="nlu_fallback",
                           assessment_offered=True)
    events = run_action(ActionAnswerPolicyQuestion(), tracker)
    followups = [e for e in events if e["event"] == "followup"]
    assert followups == ([{"event": "followup", "timestamp": None,
                           "name": "enterprise_profile_form"}] if starts else [])
