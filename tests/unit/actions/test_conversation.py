"""actions.conversation.last_user_text: what the user typed, as the tracker keeps it."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.conversation import last_user_text


def test_the_user_event_text_wins_over_the_normalised_latest_message(load_tracker) -> None:
    tracker = load_tracker("policy_question_traditional")
    assert tracker.latest_message["text"] == "错峰生产企业清单怎么定"
    assert last_user_text(tracker) == "錯峰生產企業清單怎麼定"


def test_the_latest_user_message_is_read_not_an_earlier_one(load_tracker) -> None:
    tracker = load_tracker("several_user_messages")
    assert [e["text"] for e in tracker.events if e["event"] == "user"] == [
        "你好", "錯峰生產企業清單怎麼定"]
    assert last_user_text(tracker) == "錯峰生產企業清單怎麼定"


def test_without_user_events_the_latest_message_is_used(load_tracker) -> None:
    tracker = load_tracker("latest_message_only")
    assert tracker.events == []
    assert last_user_text(tracker) == "审批有没有绿色通道？"


def test_a_tracker_with_no_message_at_all_gives_empty_text() -> None:
    assert last_user_text(Tracker.from_dict({"sender_id": "new-owner"})) == ""
