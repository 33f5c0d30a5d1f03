"""action_answer_policy_question over the whole corpus: a question naming a law the 生态环境法典
repealed hears of the repeal first, then the article in force (or the labelled old text, or
that nothing in force was found)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.policy_answer import ActionAnswerPolicyQuestion

CODE = "《中华人民共和国生态环境法典》"
EPL = "《中华人民共和国环境保护法》"
REPEAL = f"{EPL}已于2026年8月15日废止，由{CODE}取代。"
CAVEAT = "对应关系为系统比对，仅供参考"
GREEN_CHANNEL = ("《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
                 "工作任务 第1条（制定正向鼓励清单）")


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


@pytest.fixture
def ask(related_kb_env, load_tracker, run_action):
    def run(text: str | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        return run_action(ActionAnswerPolicyQuestion(),
                          load_tracker("question_naming_a_repealed_article", text=text, **kwargs))
    return run


def test_repealed_article_says_the_repeal_then_quotes_the_successor_in_force(
    ask, dispatcher, render
) -> None:
    events = ask()

    assert responses(dispatcher) == ["utter_repealed", "utter_repealed_successor_answer",
                                     "utter_successor_unreviewed"]
    repeal, answer, caveat = (render(m) for m in dispatcher.messages)
    assert repeal == REPEAL
    assert answer.startswith(f"原第二十五条的内容现见{CODE}第五十二条：\n企业事业单位")
    assert answer.endswith(f"\n——出自{CODE}第五十二条")
    assert CAVEAT in caveat
    slots = slot_values(events)
    assert slots["last_citations"] == [f"{CODE}第五十二条"]
    assert (slots["human_offered"], slots["fallback_count"]) == (False, 0)
    [retrieval] = slots["last_retrieval"]
    assert retrieval["outcome"] == "answer"
    assert retrieval["evidence"][0]["citation"] == f"{CODE}第五十二条"


def test_repealed_article_without_a_successor_offers_a_human_and_cites_nothing(
    ask, dispatcher, render
) -> None:
    events = ask("环境保护法第三十二条怎么规定的")

    assert responses(dispatcher) == ["utter_repealed", "utter_repealed_no_successor"]
    repeal, none_found = (render(m) for m in dispatcher.messages)
    assert repeal == REPEAL
    assert "原第三十二条" in none_found and "没有找到" in none_found and "转人工" in none_found
    assert "——出自" not in none_found
    slots = slot_values(events)
    assert (slots["human_offered"], slots["last_citations"]) == (True, [])
    assert [r["outcome"] for r in slots["last_retrieval"]] == ["not_covered"]


def test_old_text_on_request_is_labelled_as_repealed_and_followed_by_the_rule_in_force(
    ask, dispatcher, render
) -> None:
    events = ask("环境保护法第二十五条原文是什么")

    assert responses(dispatcher) == ["utter_repealed", "utter_repealed_old_text",
                                     "utter_repealed_old_text_successor",
                                     "utter_successor_unreviewed"]
    _, old, current, _ = (render(m) for m in dispatcher.messages)
    assert old.startswith("以下是原第二十五条的历史文本，已废止、不再有效")
    assert "违反法律法规规定排放污染物" in old
    assert old.endswith(f"——出自{EPL}第二十五条（已废止）")
    assert current.startswith(f"现行规定见{CODE}第五十二条：\n")
    assert current.endswith(f"——出自{CODE}第五十二条")
    assert slot_values(events)["last_citations"] == [f"{EPL}第二十五条", f"{CODE}第五十二条"]


def test_repealed_law_named_without_an_article_prefixes_the_rule_in_force(
    ask, dispatcher, render
) -> None:
    ask("环保法按日连续处罚怎么规定")

    assert responses(dispatcher)[0] == "utter_repealed"
    assert render(dispatcher.messages[0]) == REPEAL
    answer = render(dispatcher.messages[1])
    if responses(dispatcher)[1] == "utter_choose_article":
        # Close articles in force: the owner picks one; none is of the repealed law.
        assert "请点选" in answer and dispatcher.messages[1]["buttons"]
        assert not any("环境保护法" in b["title"] for b in dispatcher.messages[1]["buttons"])
    else:
        assert responses(dispatcher)[1] == "utter_repealed_in_force_answer"
        assert answer.startswith("以下是现行规定：\n")
        # Quoted from a text in force (whose wording may still point at the old law).
        assert "——出自" in answer and not answer.split("——出自")[1].startswith(EPL)
    assert CAVEAT not in "".join(render(m) for m in dispatcher.messages)


def test_repealed_law_named_when_nothing_in_force_answers_keeps_the_notice(
    ask, dispatcher, render
) -> None:
    events = ask("老的大气法里说重污染天气要停产吗", intent="nlu_fallback")

    assert responses(dispatcher) == ["utter_repealed", "utter_repealed_not_covered"]
    assert render(dispatcher.messages[0]).startswith("《中华人民共和国大气污染防治法》已于")
    assert "转人工" in render(dispatcher.messages[1])
    assert slot_values(events)["human_offered"] is True


def test_a_repealed_article_among_several_questions_has_its_own_header(
    ask, dispatcher, render
) -> None:
    events = ask("审批有没有绿色通道？环境保护法第二十五条怎么规定的？")

    assert responses(dispatcher) == ["utter_policy_answer_for", "utter_repealed_for",
                                     "utter_repealed_successor_answer",
                                     "utter_successor_unreviewed"]
    assert dispatcher.messages[0]["citation"] == GREEN_CHANNEL
    assert render(dispatcher.messages[1]) == f"关于“环境保护法第二十五条怎么规定的？”：{REPEAL}"
    assert slot_values(events)["last_citations"] == [GREEN_CHANNEL, f"{CODE}第五十二条"]


@pytest.mark.parametrize("text", ["法典第一千一百零二条", "环境保护法第二十五条原文是什么",
                                  "大气污染防治法第四条", "审批有没有绿色通道？"])
def test_no_reply_doubles_book_title_marks_or_leaves_a_placeholder(
    ask, dispatcher, render, text: str
) -> None:
    ask(text)
    for message in dispatcher.messages:
        shown = render(message)
        assert "《《" not in shown and "》》" not in shown and "《》" not in shown
        assert "{" not in shown


def test_an_article_in_force_is_answered_plainly_with_its_legislation_citation(
    ask, dispatcher, render
) -> None:
    ask("法典第一千一百零二条")
    assert responses(dispatcher) == ["utter_policy_answer"]
    assert render(dispatcher.messages[0]).endswith(f"——出自{CODE}第一千一百零二条")
