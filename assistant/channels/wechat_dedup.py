"""Remembers which WeChat messages were already taken, so that a retry is never answered twice.

WeChat resends a message it considers unanswered (no reply within 5 s), up to three times. The
first request to arrive claims the message; every later copy, whether the first is still being
processed or long done, is acknowledged with "success" and nothing else. Entries expire after a
TTL and the cache holds a bounded number of them (oldest dropped first), so memory stays flat.

`DedupCache` remembers within one process. Behind several Rasa instances (the scaled
profile) a retry can land on another instance than the first copy, so `RedisDedupStore` keeps
the claims in Redis, shared by every instance (SET NX with the same TTL).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)


def dedup_key(fields: Mapping[str, Any]) -> str | None:
    """MsgId for messages; FromUserName + CreateTime (+ event) for events, which have no MsgId."""
    msg_id = str(fields.get("MsgId") or "").strip()
    if msg_id:
        return f"msg:{msg_id}"
    sender = str(fields.get("FromUserName") or "").strip()
    created = str(fields.get("CreateTime") or "").strip()
    if not sender or not created:
        return None
    event = str(fields.get("Event") or fields.get("MsgType") or "").strip().lower()
    return f"evt:{sender}:{created}:{event}"


class ExpiringMap:
    """Keys kept for `ttl_seconds` each, at most `max_entries` of them (oldest dropped first),
    with a value per key: the bookkeeping both the retry dedup and the replay ledger need."""

    def __init__(
        self, ttl_seconds: float, max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        # insertion order = expiry order: key -> (expires, value)
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        self._purge(self._clock())
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        self._purge(self._clock())
        return key in self._entries

    def get(self, key: str, default: Any = None) -> Any:
        self._purge(self._clock())
        entry = self._entries.get(key)
        return default if entry is None else entry[1]

    def add(self, key: str, value: Any = None) -> bool:
        """Stores `key` unless it is already there; True when it was new."""
        now = self._clock()
        self._purge(now)
        if key in self._entries:
            return False
        self._entries[key] = (now + self.ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def _purge(self, now: float) -> None:
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]


class DedupCache(ExpiringMap):
    """A TTL + size-bounded set of message keys; `claim` is atomic within one event loop."""

    def __init__(
        self, ttl_seconds: float = 600.0, max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl_seconds, max_entries, clock)

    def claim(self, key: str) -> bool:
        """True for the first sighting of `key` within the TTL (the caller answers it)."""
        return self.add(key)

    def release(self, key: str) -> None:
        """Forgets `key`: its processing failed before any answer, so a retry may try again."""
        self.pop(key)


class DedupStore(Protocol):
    def claim(self, key: str) -> bool: ...
    def release(self, key: str) -> None: ...


class RedisDedupStore:
    """Claims shared by every Rasa instance. Should Redis fail, claims fall back to this
    process's own cache: a retry might then be answered twice, which is better than a
    message never answered; the cause is logged for staff."""

    def __init__(self, url: str, ttl_seconds: float, fallback: DedupCache,
                 prefix: str = "assistant:wechat:seen:") -> None:
        import redis  # in Rasa's runtime; only the scaled profile needs it

        self.red = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.ttl = max(1, int(ttl_seconds))
        self.fallback = fallback
        self.prefix = prefix

    def claim(self, key: str) -> bool:
        try:
            return bool(self.red.set(self.prefix + key, b"1", nx=True, ex=self.ttl))
        except Exception as exc:  # redis.RedisError, OSError: never lose the message
            log.error("wechat: Redis claim failed (%s); this instance decides alone", exc)
            return self.fallback.claim(key)

    def release(self, key: str) -> None:
        self.fallback.release(key)
        try:
            self.red.delete(self.prefix + key)
        except Exception as exc:
            log.error("wechat: Redis release of %s failed (%s)", key, exc)


def dedup_store(ttl_seconds: float, max_entries: int, redis_url: str = "") -> DedupStore:
    local = DedupCache(ttl_seconds, max_entries)
    return RedisDedupStore(redis_url, ttl_seconds, local) if redis_url else local
