"""'我们做X的，算不算战略性新兴产业' is answered with the field and the clause, then the
assessment is offered; a category question naming no industry starts the profile form."""

from __future__ import annotations

from typing import Any

import pytest

from actions.industry_question import ActionAnswerIndustryQuestion

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize(("text", "industry", "fields"), [
    ("我们厂做锂电池隔膜，这个算战略性新兴产业不", "我们厂做锂电池隔膜", "新能源"),
    ("我们是做数控机床的 能不能进优先保障", "我们是做数控机床的", "高端装备制造"),
    ("ＡＩ算法公司也在优先保障里吗", "AI", "人工智能"),
])
def test_an_industry_in_a_field_is_answered_with_the_clause_and_an_offer(
    kb_env, load_tracker, run_action, dispatcher, render, text: str, industry: str, fields: str
) -> None:
    events = run_action(ActionAnswerIndustryQuestion(),
                        load_tracker("policy_question", text=text, intent="ask_category"))
    answer, offer = (render(m) for m in dispatcher.messages)
    assert dispatcher.messages[0]["response"] == "utter_industry_in_fields"
    assert fields in answer and f"——出自{DOC}工作原则 第1条" in answer
    assert "10大领域" in answer  # the clause's own sentence is quoted
    assert "评估" in offer
    slots = slot_values(events)
    assert slots["industry"] == industry and slots["assessment_offered"] is True
    assert slots["human_offered"] is False


def test_an_industry_in_no_field_says_so(kb_env, load_tracker, run_action, dispatcher,
                                        render) -> None:
    text = "我们是做纸箱包装的小厂，算不算战略性新兴产业"
    events = run_action(ActionAnswerIndustryQuestion(),
                        load_tracker("policy_question", text=text, intent="ask_category"))
    assert dispatcher.messages[0]["response"] == "utter_industry_in_no_field"
    assert "没有对应" in render(dispatcher.messages[0])
    assert slot_values(events)["scale"] == "small"  # what it stated is kept


@pytest.mark.parametrize("text", ["帮我看看我们企业属于哪一类", "帮我评估一下我们厂",
                                  "帮我看看我们企业能享受什么，评估一下"])
def test_a_category_question_naming_no_industry_starts_the_form(
    kb_env, load_tracker, run_action, dispatcher, text: str
) -> None:
    events = run_action(ActionAnswerIndustryQuestion(),
                        load_tracker("policy_question", text=text, intent="ask_category"))
    assert events == [{"event": "followup", "timestamp": None,
                       "name": "enterprise_profile_form"},
                      {"event": "slot", "timestamp": None, "name": "last_answer_passages",
                       "value": []}]
    assert dispatcher.messages == []


def test_a_category_question_about_the_last_answer_quotes_who_is_in_it_first(
    kb_env, load_tracker, run_action, dispatcher, render
) -> None:
    """'那我们厂会被列进去吗' after an answer on the staggered-production list."""
    hit = kb_env.retriever.search("错峰生产企业清单").hits[0]
    assert hit.passage.clause_key == "工作任务/3"
    tracker = load_tracker("policy_question", text="那我们厂会被列进去吗", intent="ask_category",
                           last_answer_passages=[hit.passage.passage_id])
    events = run_action(ActionAnswerIndustryQuestion(), tracker)
    [message] = dispatcher.messages
    assert message["response"] == "utter_category_criteria"
    text = render(message)
    assert "排放总量大" in text and "错峰生产" in text and f"——出自{DOC}工作原则 第2条" in text
    assert events[0] == {"event": "followup", "timestamp": None,
                         "name": "enterprise_profile_form"}
