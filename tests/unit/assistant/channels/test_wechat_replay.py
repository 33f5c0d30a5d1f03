"""A plaintext WeChat signature is good for one body (issue 26, finding 10)."""

from __future__ import annotations

import pytest

from assistant.channels.wechat_protocol import Rejected, WeChatProtocol
from assistant.channels.wechat_replay import SignatureLedger, signature_ledger
from tests.unit.assistant.channels.test_wechat_protocol import (
    NOW,
    encrypted_request,
    plain_args,
    rejected,
    settings,
    text_xml,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pair_is_good_for_its_first_body_and_its_retries_only() -> None:
    ledger = SignatureLedger(ttl_seconds=60)
    assert ledger.admit("1700000000", "42", b"<xml>a</xml>")
    assert ledger.admit("1700000000", "42", b"<xml>a</xml>")  # WeChat retrying that message
    assert not ledger.admit("1700000000", "42", b"<xml>b</xml>")
    assert ledger.admit("1700000000", "43", b"<xml>b</xml>")  # another nonce: another request


def test_pairs_expire_and_the_ledger_is_bounded() -> None:
    clock = Clock()
    ledger = SignatureLedger(ttl_seconds=10, max_entries=3, clock=clock)
    for i in range(5):
        assert ledger.admit("1", str(i), b"x")
    assert len(ledger) == 3
    clock.now += 11
    assert len(ledger) == 0 and ledger.admit("1", "4", b"y")


def test_a_pair_is_kept_while_its_timestamp_can_pass_the_freshness_check() -> None:
    ledger = signature_ledger(300, 100)
    assert isinstance(ledger, SignatureLedger) and ledger.ttl >= 2 * 300
    with pytest.raises(ValueError):
        SignatureLedger(ttl_seconds=0)


def _protocol(mode: str = "compatible") -> WeChatProtocol:
    return WeChatProtocol(settings(mode), clock=lambda: NOW, replays=SignatureLedger(600))


def test_a_plaintext_signature_replayed_with_another_body_is_refused() -> None:
    p = _protocol()
    first = text_xml("你好").encode()
    assert p.open_message(plain_args(), first).fields["Content"] == "你好"
    assert p.open_message(plain_args(), first).fields["Content"] == "你好"  # a retry
    exc = rejected(p.open_message, plain_args(), text_xml("转人工", openid="oOther").encode())
    assert isinstance(exc, Rejected) and exc.status == 403 and "replay" in exc.reason


def test_a_request_that_fails_the_signature_leaves_no_trace_in_the_ledger() -> None:
    p = _protocol()
    bad = {**plain_args(), "signature": "0" * 40}
    assert rejected(p.open_message, bad, text_xml("转人工").encode()).status == 403
    assert p.open_message(plain_args(), text_xml("你好").encode()).fields["Content"] == "你好"


def test_safe_mode_is_signed_over_the_body_and_not_checked_twice() -> None:
    p = _protocol("safe")
    args, body = encrypted_request(text_xml("你好"))
    assert p.open_message(args, body).fields["Content"] == "你好"
    assert p.open_message(args, body).fields["Content"] == "你好"
