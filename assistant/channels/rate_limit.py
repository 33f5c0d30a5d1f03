"""What a user's message may cost before the assistant works on it (issue 26, finding 4).

A message is cheap to send and costs the servers real work (segmentation, the sentence
encoders, retrieval), so the channels bound both ends before a turn starts:

- a message longer than `MAX_USER_MESSAGE_CHARS` is not processed; the user is asked for a
  shorter one (`message_too_long`);
- each sender has a token bucket (`RATE_BURST` messages at once, then one every
  `RATE_REFILL_SECONDS`); a message over the rate is not processed, and the user is told to
  send it again a little later (`rate_limited`), so nothing is dropped silently.

Both replies come at once: over WeChat they are the passive reply. The buckets live in each
Rasa process: behind several instances (the scaled profile) a sender's rate is per instance,
at most the number of instances times the rate (docs/security.md). Standard library only (the
channels run in Rasa's runtime).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from assistant.channels.messages import MESSAGES
from conversation.limits import MAX_USER_MESSAGE_CHARS, RATE_BURST, RATE_REFILL_SECONDS

log = logging.getLogger(__name__)

MAX_TRACKED_SENDERS = 100_000  # buckets kept; the least recently used is forgotten first


@dataclass(frozen=True)
class RatePolicy:
    """A sender's burst and the seconds until one more message is allowed."""

    burst: int = RATE_BURST
    refill_seconds: float = RATE_REFILL_SECONDS

    @classmethod
    def from_env(cls) -> RatePolicy:
        """`CHANNEL_RATE_BURST` and `CHANNEL_RATE_REFILL_SECONDS` override the defaults; a
        burst of 0 switches the limit off (a load test, a trusted gateway that limits)."""
        burst = int(os.environ.get("CHANNEL_RATE_BURST") or RATE_BURST)
        refill = float(os.environ.get("CHANNEL_RATE_REFILL_SECONDS") or RATE_REFILL_SECONDS)
        if burst < 0 or refill <= 0:
            raise ValueError("CHANNEL_RATE_BURST must be >= 0 and CHANNEL_RATE_REFILL_SECONDS > 0")
        return cls(burst, refill)


class SenderRateLimit:
    """Token buckets by sender id, bounded in memory; thread-safe."""

    def __init__(
        self,
        policy: RatePolicy,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_TRACKED_SENDERS,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._max_senders = max_senders
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def allow(self, sender_id: str) -> bool:
        """Takes one message from the sender's bucket; False when it is empty."""
        burst = self.policy.burst
        if burst <= 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(sender_id, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) / self.policy.refill_seconds)
            allowed = tokens >= 1.0
            self._buckets[sender_id] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max_senders:
                self._buckets.popitem(last=False)
        return allowed


_LIMIT: SenderRateLimit | None = None


def _rate_limit() -> SenderRateLimit:
    global _LIMIT
    if _LIMIT is None:
        _LIMIT = SenderRateLimit(RatePolicy.from_env())
    return _LIMIT


def refusal(sender_id: str, text: str) -> str | None:
    """The polite reply that stands for a turn the assistant will not take, or None to go on.

    Called by the channels (`guard_turn`) once per user message, before Rasa sees it."""
    if len(text) > MAX_USER_MESSAGE_CHARS:
        log.warning(
            "sender=%s message of %d chars not processed (over %d)",
            sender_id,
            len(text),
            MAX_USER_MESSAGE_CHARS,
        )
        return MESSAGES.message_too_long.format(limit=MAX_USER_MESSAGE_CHARS)
    if not _rate_limit().allow(sender_id):
        log.warning("sender=%s over the message rate; asked to resend later", sender_id)
        return MESSAGES.rate_limited
    return None
