"""End-to-end: real Rasa server + real action server + real knowledge base, over HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.live_servers import Assistant

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
CITED = "——出自"


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("question", "must_contain", "citation"),
    [
        ("重污染天气预警提前几天发布？", "提前1至2天", f"{DOC}工作任务 第2条"),
        ("审批有没有绿色通道？", "绿色通道", f"{DOC}工作任务 第1条"),
        ("錯峰生產企業清單怎麼定", "错峰生产企业清单", f"{DOC}工作任务 第3条"),
        ("不符合产业政策的企业会怎么样", "关停取缔", f"{DOC}工作原则 第2条"),
    ],
)
def test_policy_question_answered_from_the_clause_with_citation(
    assistant: Assistant, question: str, must_contain: str, citation: str
) -> None:
    reply = assistant.reply(new_user(), question)
    assert must_contain in reply
    assert f"{CITED}{citation}" in reply


@pytest.mark.parametrize(
    ("message", "expected"),
    [("你好", "您好"), ("谢谢你", "不客气"), ("再见", "再见"), ("你是机器人吗", "机器人")],
)
def test_small_talk_gets_short_natural_replies(
    assistant: Assistant, message: str, expected: str
) -> None:
    reply = assistant.reply(new_user(), message)
    assert expected in reply
    assert CITED not in reply and len(reply) < 200


@pytest.mark.parametrize(
    "question",
    ["公司注册资本怎么变更", "今天天气怎么样", "社保断缴了怎么补", "北京的房贷利率是多少"],
)
def test_uncovered_question_is_never_answered_with_a_passage(
    assistant: Assistant, question: str
) -> None:
    reply = assistant.reply(new_user(), question)
    assert CITED not in reply
    assert "抱歉" in reply and "人工" in reply


@pytest.mark.parametrize(
    ("elsewhere", "here"),
    [
        ("浙江审批有没有绿色通道？", "审批有没有绿色通道？"),
        ("山东的重污染天气预警提前几天发布", "重污染天气预警提前几天发布"),
        ("廣州的錯峰生產企業清單怎麼定", "錯峰生產企業清單怎麼定"),
    ],
)
def test_the_same_question_about_another_province_is_out_of_scope(
    assistant: Assistant, elsewhere: str, here: str
) -> None:
    """Hebei's clause must not be passed off as another province's policy."""
    reply = assistant.reply(new_user(), elsewhere)
    assert CITED not in reply
    assert "河北" in reply and "人工" in reply
    assert CITED in assistant.reply(new_user(), here)


@pytest.mark.parametrize("message", ["😀😀😀", "？？？！！！", "审批" * 2500, "ｈｅｌｌｏ"])
def test_odd_input_gets_a_polite_reply(assistant: Assistant, message: str) -> None:
    reply = assistant.reply(new_user(), message)
    assert reply.strip(), "the assistant must always say something"
    assert "Traceback" not in reply


def test_handoff_is_recorded_in_the_tracker_store(assistant: Assistant) -> None:
    user = new_user()
    assistant.reply(user, "审批有没有绿色通道？")
    reply = assistant.reply(user, "我要转人工")
    assert "人工" in reply
    slots = assistant.slots(user)
    assert slots["needs_human"] is True
    assert slots["handoff_reason"] == "user_request"
    assert slots["last_question"] == "审批有没有绿色通道？"


def test_offered_human_is_accepted_with_yes(assistant: Assistant) -> None:
    user = new_user()
    first = assistant.reply(user, "环保验收报告要花多少钱")
    if "转人工吗" not in first:
        pytest.fail(f"expected an honest 'not covered' offer, got: {first}")
    assert "已为您转接人工" in assistant.reply(user, "好的")


def test_empty_message_gets_a_prompt(assistant: Assistant) -> None:
    reply = assistant.reply(new_user(), "   ")
    assert "请直接输入" in reply


def test_action_server_down_gives_polite_retry_and_recovers(
    assistant: Assistant, action_server_process
) -> None:
    user = new_user()
    action_server_process.stop()
    try:
        reply = assistant.reply(user, "审批有没有绿色通道？")
        assert "稍后再试" in reply and CITED not in reply
    finally:
        action_server_process.start()
        action_server_process.wait_healthy(120)
    reply = assistant.reply(user, "审批有没有绿色通道？")
    assert f"{CITED}{DOC}工作任务 第1条" in reply


def test_question_naming_a_version_is_answered_from_that_version(assistant: Assistant) -> None:
    # Only one version is published here, so the audit path must agree with the live one.
    reply = assistant.reply(new_user(), "2019年版里重污染天气预警提前几天发布？")
    assert "提前1至2天" in reply
    assert f"{CITED}{DOC}工作任务 第2条" in reply


def test_a_numbered_list_of_questions_gets_one_cited_answer_per_question(
        assistant: Assistant) -> None:
    reply = assistant.reply(new_user(), "1.预警提前几天发布\n2.执法检查会不会一律顶格处罚")
    assert reply.count(CITED) >= 2
    assert "关于“预警提前几天发布”：" in reply and "提前1至2天" in reply
    assert "关于“执法检查会不会一律顶格处罚”：" in reply
    assert f"{CITED}{DOC}工作任务 第4条" in reply
    assert "没有找到相关规定" not in reply


def test_an_answer_without_the_time_asked_says_so_and_offers_a_human(
        assistant: Assistant) -> None:
    reply = assistant.reply(new_user(), "走绿色通道审批要多少天")
    assert reply.startswith("文件里没有写明时间或期限")
    assert f"{CITED}{DOC}工作任务 第1条" in reply
    assert "转人工" in reply
