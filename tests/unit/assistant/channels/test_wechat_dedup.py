"""De-duplication of WeChat retries: bounded, expiring, first claim wins."""

from __future__ import annotations

import pytest

from assistant.channels.wechat_dedup import DedupCache, dedup_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_claim_wins_and_retries_are_refused_until_expiry() -> None:
    clock = Clock()
    cache = DedupCache(ttl_seconds=60, max_entries=100, clock=clock)
    assert cache.claim("msg:1") is True
    assert cache.claim("msg:1") is False  # retry while the first is in flight or done
    clock.now += 59
    assert cache.claim("msg:1") is False
    clock.now += 2
    assert "msg:1" not in cache
    assert cache.claim("msg:1") is True


def test_release_lets_a_retry_through_after_a_failure() -> None:
    cache = DedupCache(ttl_seconds=60, max_entries=10)
    assert cache.claim("msg:2")
    cache.release("msg:2")
    assert cache.claim("msg:2")


def test_size_is_bounded_and_oldest_entries_go_first() -> None:
    clock = Clock()
    cache = DedupCache(ttl_seconds=600, max_entries=3, clock=clock)
    for i in range(5):
        clock.now += 1
        assert cache.claim(f"msg:{i}")
    assert len(cache) == 3
    assert "msg:0" not in cache and "msg:1" not in cache and "msg:4" in cache


def test_expired_entries_are_purged() -> None:
    clock = Clock()
    cache = DedupCache(ttl_seconds=10, max_entries=1000, clock=clock)
    for i in range(100):
        cache.claim(f"msg:{i}")
    clock.now += 11
    assert len(cache) == 0


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        DedupCache(ttl_seconds=0)


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"MsgId": "123", "FromUserName": "o1", "CreateTime": "9"}, "msg:123"),
        ({"FromUserName": "o1", "CreateTime": "9", "MsgType": "event", "Event": "subscribe"},
         "evt:o1:9:subscribe"),
        ({"FromUserName": "o1", "CreateTime": "9", "MsgType": "event", "Event": "unsubscribe"},
         "evt:o1:9:unsubscribe"),
        ({"FromUserName": "o1"}, None),
    ],
)
def test_dedup_key(fields, key) -> None:
    assert dedup_key(fields) == key
