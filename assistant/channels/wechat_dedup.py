"""Remembers which WeChat messages were already taken, so that a retry is never answered twice.

WeChat resends a message it considers unanswered (no reply within 5 s), up to three times. The
first request to arrive claims the message; every later copy, whether the first is still being
processed or long done, is acknowledged with "success" and nothing else. Entries expire after a
TTL and the cache holds a bounded number of them (oldest dropped first), so memory stays flat.

One process only: behind several Rasa instances, route a given OpenID to the same instance or
accept that a retry landing elsewhere is answered there (see docs/wechat.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any


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


class DedupCache:
    """A TTL + size-bounded set of message keys; `claim` is atomic within one event loop."""

    def __init__(
        self, ttl_seconds: float = 600.0, max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # insertion order = expiry order

    def __len__(self) -> int:
        self._purge(self._clock())
        return len(self._expiry)

    def __contains__(self, key: str) -> bool:
        now = self._clock()
        self._purge(now)
        return key in self._expiry

    def claim(self, key: str) -> bool:
        """True for the first sighting of `key` within the TTL (the caller answers it)."""
        now = self._clock()
        self._purge(now)
        if key in self._expiry:
            return False
        self._expiry[key] = now + self.ttl
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)
        return True

    def release(self, key: str) -> None:
        """Forgets `key`: its processing failed before any answer, so a retry may try again."""
        self._expiry.pop(key, None)

    def _purge(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[key]
