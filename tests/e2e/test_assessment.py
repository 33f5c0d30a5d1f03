"""End-to-end: the profile form and the assessment, over REST against the real servers."""

from __future__ import annotations

import uuid

from tests.live_servers import Assistant


def new_user() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}"


def converse(assistant: Assistant, user: str, *messages: str) -> str:
    reply = ""
    for message in messages:
        reply = assistant.reply(user, message)
    return reply


# The form's questions (by a phrase of each) and an answer to each.
QUESTIONS = {
    # A terse answer that could lead to an adverse verdict is repeated back first (this
    # question names the fact, so it is recognised before the others).
    "跟您确认": "confirm_fact",
    "主要做什么": "industry",
    "手续齐全吗": "procedures_complete",
    "稳定达标排放吗": "meets_emission_standards",
    "污染较重": "heavy_pollution",
    "产业政策吗": "conforms_industrial_policy",
    "重点项目吗": "key_project",
    "领跑者": "environmental_leader",
}
CONFIRMED = "对的"


def answer_form(assistant: Assistant, user: str, reply: str, answers: dict[str, str]) -> str:
    """Answers each question the form asks until it stops asking; returns the last reply."""
    asked: list[str] = []
    for _ in range(len(QUESTIONS) + 1):
        slot = next((s for phrase, s in QUESTIONS.items() if phrase in reply), None)
        if slot is None or "初步评估" in reply:  # a verdict repeats the facts it rests on
            return reply
        assert slot not in asked or slot == "confirm_fact", f"asked twice for {slot}: {reply}"
        asked.append(slot)
        reply = assistant.reply(user, answers.get(slot, CONFIRMED))
    raise AssertionError(f"the form never finished: {asked}")


def test_a_terse_no_is_confirmed_before_the_closure_verdict(assistant: Assistant) -> None:
    user = new_user()
    reply = converse(assistant, user, "帮我看看我们属于哪类企业", "做汽车配件的", "不是")
    assert "跟您确认" in reply and "手续不全" in reply
    assert "关停取缔" not in reply
    # Meant for another question: what the owner restates is kept, the form goes on.
    reply = assistant.reply(user, "我是说我们不是重污染，手续是齐的")
    assert "已更正" in reply and "稳定达标排放吗" in reply
    assert "关停取缔" not in reply


def test_priority_from_one_rich_message(assistant: Assistant) -> None:
    user = new_user()
    reply = converse(assistant, user, "帮我看看我们企业属于哪一类",
                     "我们是做石墨烯材料的小企业，手续齐全，排放稳定达标")
    # industry, procedures and standards were given at once: they are never asked again.
    reply = answer_form(assistant, user, reply, {"heavy_pollution": "否",
                                                 "conforms_industrial_policy": "是"})
    assert "优先服务保障" in reply
    assert "绿色通道" in reply and "工作任务 第1条" in reply
    assert "主管部门认定为准" in reply


def test_closure_for_incomplete_procedures(assistant: Assistant) -> None:
    user = new_user()
    reply = converse(assistant, user, "我们厂属于哪一类企业", "做塑料颗粒加工的")
    reply = answer_form(assistant, user, reply, {"procedures_complete": "否"})
    assert "关停取缔" in reply and "您说：" in reply and "手续不全" in reply
    assert "工作原则 第2条" in reply


def test_staggered_for_heavy_polluter(assistant: Assistant) -> None:
    user = new_user()
    reply = converse(assistant, user, "我们适用什么政策", "我们是水泥厂，手续齐全，能稳定达标排放")
    reply = answer_form(assistant, user, reply, {"industry": "生产水泥的",
                                                 "heavy_pollution": "是",
                                                 "conforms_industrial_policy": "是"})
    assert "错峰生产" in reply


def test_classified_for_ordinary_compliant_enterprise(assistant: Assistant) -> None:
    user = new_user()
    reply = converse(assistant, user, "帮我判断下我们公司是哪类", "做家具加工的")
    reply = answer_form(assistant, user, reply, {
        "procedures_complete": "是", "meets_emission_standards": "是", "heavy_pollution": "否",
        "conforms_industrial_policy": "是", "key_project": "不是重点项目",
        "environmental_leader": "否"})
    assert "分类监督管理" in reply or "分类监管" in reply


def test_policy_question_in_the_middle_of_the_form(assistant: Assistant) -> None:
    user = new_user()
    converse(assistant, user, "帮我看看我们企业属于哪一类", "做数控机床的")
    reply = assistant.reply(user, "重污染天气预警提前几天发布？")
    assert "提前1至2天" in reply and "——出自" in reply
    # ... and the form goes on with its question.
    assert "吗" in reply.splitlines()[-1]


def test_corrections_are_stored_and_change_the_assessment(assistant: Assistant) -> None:
    user = new_user()
    first = converse(assistant, user,
                     "我们是做锂电池的小企业，手续齐全，排放稳定达标，污染不大，符合产业政策")
    assert "优先服务保障" in first
    assistant.reply(user, "不对，我们是中型企业")
    assert assistant.slots(user)["scale"] == "medium"
    corrected = assistant.reply(user, "更正一下，环评还没批下来")
    assert assistant.slots(user)["procedures_complete"] is False
    assert "关停取缔" in corrected
    detail = assistant.reply(user, "详细说说")
    assert "手续不全" in detail and "工作原则 第2条" in detail


def test_cancel_with_suanle(assistant: Assistant) -> None:
    user = new_user()
    converse(assistant, user, "帮我看看我们企业属于哪一类", "做光伏组件的")
    reply = assistant.reply(user, "算了")
    assert "已停止评估" in reply
    assert "——出自" in assistant.reply(user, "审批有没有绿色通道？")


def test_category_question_in_the_middle_of_the_form_is_answered(assistant: Assistant) -> None:
    user = new_user()
    converse(assistant, user, "帮我判断下我们公司是哪类", "做家具加工的")
    reply = assistant.reply(user, "中药企业算新兴产业吗")
    assert "——出自" in reply or "没有" in reply  # answered from the text, or said not covered
    assert "稍后再试" not in reply
    assert "手续齐全吗" in reply.splitlines()[-1]  # and the form goes on


def test_thanks_is_not_taken_for_the_industry(assistant: Assistant) -> None:
    user = new_user()
    converse(assistant, user, "帮我判断下我们公司是哪类")
    reply = assistant.reply(user, "谢谢你")
    assert "不客气" in reply and "主要做什么" in reply
    assert "industry" not in assistant.slots(user) or assistant.slots(user)["industry"] is None
