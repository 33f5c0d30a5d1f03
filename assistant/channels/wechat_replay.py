"""Remembers the (timestamp, nonce) of each plaintext WeChat request, so that one signature
cannot carry a second body.

In plaintext mode WeChat signs only the token, timestamp and nonce, not the body: whoever sees
one signed request (a proxy log, a mirrored port) could post any message with its signature
while the timestamp is fresh. So a pair is good for the body it first came with: the same body
again is WeChat retrying that message (acknowledged by `wechat_dedup`, answered once), another
body is refused. Safe (encrypted) mode signs the body itself and needs none of this; it is the
mode to use (docs/wechat.md).

As in `wechat_dedup`: `SignatureLedger` remembers within one process (TTL + size bound);
behind several Rasa instances `RedisSignatureLedger` keeps the pairs in Redis (SET NX with the
same TTL), falling back to this process's ledger should Redis fail.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

from assistant.channels.wechat_dedup import ExpiringMap

log = logging.getLogger(__name__)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class ReplayLedger(Protocol):
    def admit(self, timestamp: str, nonce: str, body: bytes) -> bool: ...


class SignatureLedger(ExpiringMap):
    """(timestamp, nonce) -> the digest of the body first signed with it, for `ttl_seconds`."""

    def admit(self, timestamp: str, nonce: str, body: bytes) -> bool:
        """True for a new pair, or a pair seen with this same body; False for another body."""
        key, digest = f"{timestamp}:{nonce}", _digest(body)
        return self.add(key, digest) or self.get(key) == digest


class RedisSignatureLedger:
    """Pairs shared by every Rasa instance, so that a replay to another instance is refused."""

    def __init__(
        self,
        url: str,
        ttl_seconds: float,
        fallback: SignatureLedger,
        prefix: str = "assistant:wechat:signature:",
    ) -> None:
        import redis  # in Rasa's runtime; only the scaled profile needs it

        self.red = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.ttl = max(1, int(ttl_seconds))
        self.fallback = fallback
        self.prefix = prefix

    def admit(self, timestamp: str, nonce: str, body: bytes) -> bool:
        key, digest = f"{self.prefix}{timestamp}:{nonce}", _digest(body).encode()
        try:
            if self.red.set(key, digest, nx=True, ex=self.ttl):
                return True
            return self.red.get(key) == digest
        except Exception as exc:  # redis.RedisError, OSError: this instance decides alone
            log.error("wechat: Redis signature check failed (%s); this instance decides alone", exc)
            return self.fallback.admit(timestamp, nonce, body)


def signature_ledger(
    freshness_seconds: float, max_entries: int, redis_url: str = ""
) -> ReplayLedger:
    """A ledger that keeps each pair while its timestamp can still pass the freshness check
    (a timestamp may be up to `freshness_seconds` ahead of or behind this clock)."""
    ttl = 2 * freshness_seconds + 1
    local = SignatureLedger(ttl, max_entries)
    return RedisSignatureLedger(redis_url, ttl, local) if redis_url else local
