"""The per-sender token bucket and the channels' refusal (assistant/channels/rate_limit.py)."""

from __future__ import annotations

import pytest

from assistant.channels import rate_limit
from assistant.channels.messages import MESSAGES
from assistant.channels.rate_limit import RatePolicy, SenderRateLimit
from conversation.limits import MAX_USER_MESSAGE_CHARS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_one_message_per_refill_interval() -> None:
    clock = Clock()
    limit = SenderRateLimit(RatePolicy(burst=3, refill_seconds=2.0), clock)
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    clock.now += 1.0
    assert not limit.allow("a")
    clock.now += 1.0
    assert limit.allow("a") and not limit.allow("a")
    assert limit.allow("b"), "another sender has its own bucket"


def test_a_burst_of_zero_switches_the_limit_off() -> None:
    limit = SenderRateLimit(RatePolicy(burst=0), Clock())
    assert all(limit.allow("a") for _ in range(100))


def test_memory_is_bounded_by_forgetting_the_least_recent_sender() -> None:
    limit = SenderRateLimit(RatePolicy(burst=1), Clock(), max_senders=2)
    for sender in ("a", "b", "c"):
        assert limit.allow(sender)
    assert limit.allow("a"), "forgotten: a full bucket again"
    assert not limit.allow("c")


def test_the_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNEL_RATE_BURST", "5")
    monkeypatch.setenv("CHANNEL_RATE_REFILL_SECONDS", "0.5")
    assert RatePolicy.from_env() == RatePolicy(5, 0.5)
    monkeypatch.setenv("CHANNEL_RATE_REFILL_SECONDS", "0")
    with pytest.raises(ValueError):
        RatePolicy.from_env()


def test_refusal_names_the_length_limit_then_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "_LIMIT", SenderRateLimit(RatePolicy(burst=1), Clock()))
    too_long = rate_limit.refusal("s", "问" * (MAX_USER_MESSAGE_CHARS + 1))
    assert too_long == MESSAGES.message_too_long.format(limit=MAX_USER_MESSAGE_CHARS)
    assert rate_limit.refusal("s", "问" * MAX_USER_MESSAGE_CHARS) is None
    assert rate_limit.refusal("s", "审批有没有绿色通道？") == MESSAGES.rate_limited
