"""WeChat message claims shared by several Rasa instances through a real Redis server."""

from __future__ import annotations

import socket

from assistant.channels.wechat_dedup import DedupCache, RedisDedupStore, dedup_store


def instance(port: int, ttl: float = 600) -> RedisDedupStore:
    return RedisDedupStore(f"redis://127.0.0.1:{port}/2", ttl, DedupCache(ttl, 100))


def test_a_message_is_claimed_once_across_instances(redis_port: int) -> None:
    first, second = instance(redis_port), instance(redis_port)
    assert first.claim("msg:1001")
    assert not second.claim("msg:1001")  # WeChat's retry reached the other instance
    assert not first.claim("msg:1001")
    assert second.claim("msg:1002")


def test_a_released_claim_can_be_taken_again(redis_port: int) -> None:
    first, second = instance(redis_port), instance(redis_port)
    assert first.claim("msg:2001")
    first.release("msg:2001")  # the turn failed before any answer
    assert second.claim("msg:2001")


def test_claims_expire_with_the_ttl(redis_port: int) -> None:
    store = instance(redis_port, ttl=30)
    assert store.claim("msg:3001")
    assert 0 < store.red.ttl(store.prefix + "msg:3001") <= 30


def test_redis_down_falls_back_to_this_instance(caplog) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = instance(port)
    assert store.claim("msg:4001")
    assert not store.claim("msg:4001")
    assert "Redis claim failed" in caplog.text


def test_the_store_follows_the_configuration(redis_port: int) -> None:
    assert isinstance(dedup_store(600, 100), DedupCache)
    assert isinstance(dedup_store(600, 100, f"redis://127.0.0.1:{redis_port}/2"),
                      RedisDedupStore)
