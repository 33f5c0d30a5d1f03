"""End-to-end dialogue behaviour: fallback, feedback, several questions, restarts."""

from __future__ import annotations

import uuid

from tests.live_servers import Assistant

CITED = "——出自"


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_two_questions_in_one_message_get_two_cited_answers(assistant: Assistant) -> None:
    reply = assistant.reply(new_user(), "重污染天气预警提前几天发布？审批有没有绿色通道？")
    assert reply.count(CITED) >= 2
    assert "提前1至2天" in reply and "绿色通道" in reply
    assert reply.index("提前1至2天") < reply.index("绿色通道")


def test_not_understood_twice_then_offer_a_human(assistant: Assistant) -> None:
    # The intent is sent directly (Rasa's HTTP API): what NLU does with a given piece of
    # gibberish depends on the trained model, the two-stage fallback must not.
    user = new_user()
    first = assistant.trigger(user, "nlu_fallback")
    assert "没太理解" in first and CITED not in first
    second = assistant.trigger(user, "nlu_fallback")
    assert "转人工" in second and CITED not in second
    accepted = assistant.reply(user, "好的")
    assert "已为您转接人工" in accepted and "没接上" not in accepted  # no core fallback after it


def test_low_confidence_message_is_not_answered_with_a_passage(assistant: Assistant) -> None:
    reply = assistant.reply(new_user(), "乌拉乌拉噗噗")
    assert CITED not in reply and reply.strip()


def test_negative_feedback_is_recorded_with_the_question(assistant: Assistant) -> None:
    user = new_user()
    assert CITED in assistant.reply(user, "审批有没有绿色通道？")
    reply = assistant.reply(user, "你这答非所问，没用")
    assert "反馈已记录" in reply
    feedback = [v for name, v in assistant.slot_events(user) if name == "negative_feedback"]
    assert feedback and feedback[-1]["question"] == "审批有没有绿色通道？"
    assert any("工作任务 第1条" in c for c in feedback[-1]["citations"])


def test_conversation_survives_a_restart_of_both_servers(
    assistant: Assistant, action_server_process, rasa_server_process
) -> None:
    user = new_user()
    offer = assistant.reply(user, "环保验收报告要花多少钱")
    assert "转人工吗" in offer
    rasa_server_process.stop()
    action_server_process.stop()
    action_server_process.start()
    rasa_server_process.start()
    action_server_process.wait_healthy(120)
    rasa_server_process.wait_healthy(300)
    # The offer made before the restart is still remembered: "好的" means "transfer me".
    assert "已为您转接人工" in assistant.reply(user, "好的")
    assert ("needs_human", True) in assistant.slot_events(user)
