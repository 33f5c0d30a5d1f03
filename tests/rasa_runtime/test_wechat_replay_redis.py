"""Plaintext WeChat signatures shared by several Rasa instances through a real Redis server:
a signature replayed with another body to the other instance is refused (issue 26, 10)."""

from __future__ import annotations

import socket

from assistant.channels.wechat_replay import (
    RedisSignatureLedger,
    SignatureLedger,
    signature_ledger,
)


def instance(port: int, ttl: float = 601) -> RedisSignatureLedger:
    return RedisSignatureLedger(f"redis://127.0.0.1:{port}/3", ttl, SignatureLedger(ttl, 100))


def test_a_signature_carries_one_body_across_instances(redis_port: int) -> None:
    first, second = instance(redis_port), instance(redis_port)
    assert first.admit("1700000000", "11", b"<xml>a</xml>")
    assert second.admit("1700000000", "11", b"<xml>a</xml>")  # WeChat's retry, elsewhere
    assert not second.admit("1700000000", "11", b"<xml>forged</xml>")
    assert not first.admit("1700000000", "11", b"<xml>forged</xml>")
    assert 0 < first.red.ttl(first.prefix + "1700000000:11") <= 601


def test_redis_down_falls_back_to_this_instance(caplog) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ledger = instance(port)
    assert ledger.admit("1700000000", "12", b"a")
    assert not ledger.admit("1700000000", "12", b"b")
    assert "Redis signature check failed" in caplog.text


def test_the_ledger_follows_the_configuration(redis_port: int) -> None:
    assert isinstance(signature_ledger(300, 100), SignatureLedger)
    assert isinstance(signature_ledger(300, 100, f"redis://127.0.0.1:{redis_port}/3"),
                      RedisSignatureLedger)
