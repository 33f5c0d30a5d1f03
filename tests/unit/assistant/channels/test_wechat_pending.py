"""Answers waiting for the user's next message: in order, bounded, expiring."""

from __future__ import annotations

import pytest

from assistant.channels.wechat_pending import PendingAnswer, PendingAnswers, pending_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_answers_come_back_oldest_first_once_each() -> None:
    store = PendingAnswers(clock=Clock())
    for i in range(3):
        store.add("oA", PendingAnswer(f"q{i}", f"a{i}"))
    store.add("oB", PendingAnswer("other", "x"))
    assert store.count("oA") == 3
    first = store.pop("oA")
    assert first is not None and first.question == "q0" and first.at > 0
    store.push_back("oA", first)  # did not fit: first again next time
    assert [store.pop("oA").text for _ in range(3)] == ["a0", "a1", "a2"]
    assert store.pop("oA") is None and store.count("oA") == 0 and store.count("oB") == 1


def test_expired_answers_are_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    store = PendingAnswers(ttl_seconds=60, clock=clock)
    store.add("oA", PendingAnswer("old", "a"))
    clock.now += 30
    store.add("oA", PendingAnswer("new", "b"))
    clock.now += 31
    assert store.pop("oA").question == "new"
    assert "expired" in caplog.text


def test_memory_stays_bounded(caplog: pytest.LogCaptureFixture) -> None:
    store = PendingAnswers(max_users=2, max_per_user=2, clock=Clock())
    for i in range(3):
        store.add("oA", PendingAnswer(f"q{i}", "a"))
    assert store.count("oA") == 2 and store.pop("oA").question == "q1"
    store.add("oB", PendingAnswer("b", "b"))
    store.add("oC", PendingAnswer("c", "c"))
    assert store.count("oA") == 0 and store.count("oC") == 1
    assert "dropped" in caplog.text


def test_answers_survive_a_round_trip_through_json() -> None:
    answer = PendingAnswer("审批？", '有。<a href="x">链接</a>', 12.5)
    assert PendingAnswer.from_json(answer.to_json()) == answer


def test_without_redis_the_store_is_this_process() -> None:
    assert isinstance(pending_store(""), PendingAnswers)


def test_redis_down_keeps_answers_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = pending_store(f"redis://127.0.0.1:{port}/2")
    store.add("oA", PendingAnswer("q", "a"))
    assert store.count("oA") == 1
    answer = store.pop("oA")
    assert answer is not None and answer.text == "a" and store.pop("oA") is None
    assert "Redis could not keep an answer" in caplog.text
