"""action_record_negative_feedback: what staff review gets when an answer did not help."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.conversation import last_user_text
from actions.feedback import ActionRecordNegativeFeedback

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
GREEN_CHANNEL = f"{DOC}工作任务 第1条（制定正向鼓励清单）"


def test_feedback_records_the_question_its_citations_and_the_comment(
    load_tracker, run_action, dispatcher, render
) -> None:
    events = run_action(ActionRecordNegativeFeedback(), load_tracker("complain_after_answer"))

    assert events == [
        SlotSet("negative_feedback", {"question": "审批有没有绿色通道？",
                                      "citations": [GREEN_CHANNEL],
                                      "comment": "你這答非所問，沒用"}),
        SlotSet("human_offered", True),  # "好的" now means "transfer me"
    ]
    [message] = dispatcher.messages
    assert message["response"] == "utter_complain"
    assert "反馈已记录" in render(message)


def test_feedback_comment_is_what_the_user_typed_not_the_normalised_text(
    load_tracker, run_action
) -> None:
    # Staff read the complaint as the owner wrote it, like the question (last_user_text).
    tracker = load_tracker("complain_after_answer")
    events = run_action(ActionRecordNegativeFeedback(), tracker)
    comment = events[0]["value"]["comment"]
    assert comment == last_user_text(tracker) == "你這答非所問，沒用"
    assert comment != tracker.latest_message["text"]


def test_feedback_before_any_question_records_an_empty_question(
    load_tracker, run_action, dispatcher
) -> None:
    events = run_action(ActionRecordNegativeFeedback(), load_tracker("complain_first"))

    assert events[0] == SlotSet("negative_feedback", {
        "question": "", "citations": [], "comment": "你们这个有什么用"})
    assert [m["response"] for m in dispatcher.messages] == ["utter_complain"]
