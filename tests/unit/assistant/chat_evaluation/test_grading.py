"""Grading of replies as the owner sees them: right, wrong, declined, invented."""

from __future__ import annotations

import pytest

from assistant.chat_evaluation.grading import (
    ALWAYS_FORBIDDEN,
    DocumentNames,
    Outcome,
    TurnCheck,
    first_cited_answer,
    grade_answer,
    grade_out_of_scope,
    turn_failures,
)

CODE = "ecological-environment-code"
NAMES = DocumentNames({CODE: ("中华人民共和国生态环境法典", "生态环境法典")})
OPINION_ANSWER = ("对纳入正向鼓励清单的企业，实施审批绿色通道。\n"
                  "——出自《差别化管控意见》工作任务 第1条（制定正向鼓励清单）\n"
                  "相关规定另见《差别化管控意见》工作任务 第5条（优化执法方式）。")
LAW_ANSWER = ("排污许可证有效期为五年。\n"
              "——出自《中华人民共和国生态环境法典》第一百八十二条")


def test_a_gold_substring_in_the_first_cited_answer_is_right() -> None:
    assert grade_answer(OPINION_ANSWER, ["审批绿色通道"], NAMES) is Outcome.RIGHT


def test_a_gold_only_in_a_see_also_line_is_wrong() -> None:
    assert grade_answer(OPINION_ANSWER, ["优化执法方式"], NAMES) is Outcome.WRONG


def test_full_width_forms_match_their_half_width_gold() -> None:
    reply = "ＶＯＣｓ排放企业实施错峰生产。\n——出自《意见》第3条"
    assert grade_answer(reply, ["VOCs排放"], NAMES) is Outcome.RIGHT


def test_a_law_gold_needs_the_article_and_the_document() -> None:
    assert grade_answer(LAW_ANSWER, [f"{CODE}#182"], NAMES) is Outcome.RIGHT
    assert grade_answer(LAW_ANSWER, [f"{CODE}#183"], NAMES) is Outcome.WRONG
    other = LAW_ANSWER.replace("中华人民共和国生态环境法典", "排污许可管理条例")
    assert grade_answer(other, [f"{CODE}#182"], NAMES) is Outcome.WRONG


def test_an_unknown_gold_document_is_an_error_in_the_set() -> None:
    with pytest.raises(KeyError):
        grade_answer(LAW_ANSWER, ["no-such-law#1"], NAMES)


def test_a_reply_without_a_citation_is_declined() -> None:
    reply = "抱歉，这份政策原文里没有找到能回答这个问题的规定。需要为您转人工吗？"
    assert grade_answer(reply, ["审批绿色通道"], NAMES) is Outcome.DECLINED
    assert first_cited_answer(reply) == ""


def test_any_cited_answer_to_an_out_of_scope_probe_is_invented() -> None:
    assert grade_out_of_scope(OPINION_ANSWER) is Outcome.INVENTED
    assert grade_out_of_scope("抱歉，这个问题不在我的范围内。") is Outcome.REJECTED


def test_turn_failures_name_each_missing_and_forbidden_pattern() -> None:
    turn = TurnCheck("都办了", expect=("稳定达标",), forbid=("手续齐全吗",))
    assert turn_failures("目前能稳定达标排放吗？", turn, ALWAYS_FORBIDDEN) == []
    assert turn_failures("环评、排污许可等手续齐全吗？", turn, ALWAYS_FORBIDDEN) == [
        "missing /稳定达标/", "forbidden /手续齐全吗/"]


def test_an_unfilled_template_fails_every_turn() -> None:
    assert turn_failures("关于“{question}”：", TurnCheck("x"), ALWAYS_FORBIDDEN)


def test_a_choice_is_clarified_when_the_gold_is_among_its_articles() -> None:
    names = DocumentNames({"ecological-environment-code": ("中华人民共和国生态环境法典", "生态环境法典")})
    reply = ("您问的可能是下面几条中的一条，请点选（也可以换个说法再问）：\n"
             "1. 生态环境法典第1102条：未取得排污许可证…\n2. 生态环境法典第1103条：违反…")
    assert grade_answer(reply, ["ecological-environment-code#1102"], names) is Outcome.CLARIFIED
    assert grade_answer(reply, ["ecological-environment-code#52"], names) \
        is Outcome.CLARIFIED_WITHOUT_GOLD
