"""Turns and review items rebuilt from tracker-store rows in Rasa's own event format."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from assistant.console.conversations import TrackerReader, open_items

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent).
SCHEMA = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,
 type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),
 action_name VARCHAR(255), data TEXT)"""


def user(text: str, intent: str, confidence: float, ts: float, channel: str = "rest") -> dict:
    return {"event": "user", "timestamp": ts, "text": text, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "text": text}}


def bot(text: str, ts: float, staff: str | None = None) -> dict:
    return {"event": "bot", "timestamp": ts, "text": text,
            "metadata": {"staff": staff} if staff else {}}


def slot(name: str, value: object, ts: float) -> dict:
    return {"event": "slot", "timestamp": ts, "name": name, "value": value}


def write(path: Path, sender: str, events: list[dict]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA) if not db.execute(
            "SELECT name FROM sqlite_master WHERE name='events'").fetchone() else None
        for e in events:  # the columns as Rasa's SQLTrackerStore.save fills them
            intent = e.get("parse_data", {}).get("intent", {}).get("name")
            db.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name,"
                       " action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                       (sender, e["event"], e["timestamp"], intent, e.get("name"),
                        json.dumps(e)))


EVIDENCE = [{"question": "审批有没有绿色通道", "outcome": "answer",
             "evidence": [{"passage_id": "p1", "citation": "《意见》第3条", "score": 0.91,
                           "text": "开辟绿色通道", "generation": "g1", "answerable": True}]}]


def test_turns_carry_intent_replies_citations_and_evidence(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    write(db, "u1", [
        {"event": "action", "timestamp": 0.5, "name": "action_session_start"},
        user("审批有没有绿色通道", "ask_policy", 0.97, 1.0),
        slot("last_retrieval", EVIDENCE, 1.1),
        slot("last_citations", ["《意见》第3条"], 1.2),
        bot("有。开辟绿色通道……", 1.3),
    ])
    conv = TrackerReader.sqlite(db).conversation("u1")
    assert conv is not None and conv.channel == "rest" and not conv.paused
    (turn,) = conv.turns
    assert (turn.text, turn.intent, turn.confidence) == ("审批有没有绿色通道", "ask_policy", 0.97)
    assert turn.citations == ["《意见》第3条"]
    assert turn.retrieval[0]["evidence"][0]["score"] == 0.91
    assert [r["text"] for r in turn.replies] == ["有。开辟绿色通道……"]
    assert conv.items == []


def test_handoff_fallback_and_feedback_reach_the_queue_until_resolved(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    write(db, "u2", [
        user("嗯嗯啊啊", "nlu_fallback", 0.41, 1.0),
        bot("没太明白", 1.1),
        user("答案不对", "complain", 0.93, 2.0),
        slot("negative_feedback", {"question": "电价", "comment": "答案不对",
                                   "citations": []}, 2.1),
        user("转人工", "request_human", 0.99, 3.0),
        slot("needs_human", True, 3.1),
        slot("handoff_reason", "user_request", 3.2),
        {"event": "pause", "timestamp": 4.0},
        user("在吗", "greet", 0.9, 5.0),
        bot("您好，我是客服小李", 5.5, staff="li"),
    ])
    conv = TrackerReader.sqlite(db).conversation("u2")
    assert conv.paused
    kinds = [(i.kind, i.question) for i in conv.items]
    assert kinds == [("fallback", "嗯嗯啊啊"), ("feedback", "答案不对"), ("handoff", "转人工")]
    assert conv.items[2].detail == "用户主动要求人工"
    assert "答案不对" in conv.items[1].detail
    assert conv.turns[-1].replies == [{"text": "您好，我是客服小李", "staff": "li",
                                       "timestamp": 5.5}]
    handoff = conv.items[2]
    assert [i.kind for i in open_items(conv, {("u2", handoff.key)})] == ["fallback", "feedback"]


def test_conversations_are_listed_newest_first_and_missing_store_is_empty(
        tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    assert TrackerReader.sqlite(db).conversations() == []
    write(db, "old", [user("你好", "greet", 0.99, 1.0)])
    write(db, "new", [user("你好", "greet", 0.99, 2.0)])
    assert [c.sender_id for c in TrackerReader.sqlite(db).conversations()] == ["new", "old"]
    assert TrackerReader.sqlite(db).conversation("nobody") is None


def test_the_queue_is_found_by_its_events_not_by_recency(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    write(db, "handoff", [user("转人工", "request_human", 0.99, 1.0), slot("needs_human", True, 1.1)])
    write(db, "feedback", [user("没用", "complain", 0.9, 2.0),
                           slot("negative_feedback", {"comment": "没用", "question": "电价"}, 2.1)])
    write(db, "lost", [user("嗯", "ask_policy", 0.9, 3.0),
                       slot("last_retrieval", [{"outcome": "not_understood"}], 3.1)])
    for n in range(300):  # ordinary traffic afterwards: answered, nothing for staff
        write(db, f"anon-{n}", [user("电价", "ask_policy", 0.9, 10.0 + n),
                                slot("last_retrieval", EVIDENCE, 10.1 + n),
                                slot("needs_human", False, 10.2 + n),
                                slot("negative_feedback", None, 10.3 + n)])
    reader = TrackerReader.sqlite(db)
    found = {c.sender_id: [i.kind for i in c.items] for c in reader.review_conversations(set())}
    assert found == {"handoff": ["handoff"], "feedback": ["feedback"], "lost": ["fallback"]}
    handoff_key = next(c for c in reader.review_conversations(set())
                       if c.sender_id == "handoff").items[0].key
    left = [c.sender_id for c in reader.review_conversations({("handoff", handoff_key)})]
    assert sorted(left) == ["feedback", "lost"]  # a wholly resolved conversation is not read


def test_the_conversation_list_is_read_a_page_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    for n in range(5):
        write(db, f"u{n}", [user("你好", "greet", 0.99, float(n))])
    reader = TrackerReader.sqlite(db)
    pages = [[c.sender_id for c in reader.conversations(offset, 2)] for offset in (0, 2, 4, 6)]
    assert pages == [["u4", "u3"], ["u2", "u1"], ["u0"], []]
