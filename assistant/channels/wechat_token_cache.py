"""Where the customer-service access token is kept: in this process, or in Redis for all.

WeChat keeps one current access token per AppID: fetching a new one retires the previous one
after a grace period. Processes that each fetched their own (two Rasa instances, the console)
kept retiring each other's token; each recovered by fetching again, so no message was lost,
but every retirement cost a failed send and a fetch, and WeChat caps token fetches per day.
With Redis they share one token, and one process fetches at a time while the others wait for
its result.

Should Redis fail, a process keeps its own token and logs the cause: the old behaviour, which
delivers everything, rather than no token at all.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class TokenCache(Protocol):
    def get(self) -> str | None:
        """The token to use now, or None when there is none or it is due for renewal."""

    def put(self, token: str, ttl_seconds: float) -> None:
        """Keeps `token` for `ttl_seconds` (WeChat's expiry less a renewal margin)."""

    def drop(self, token: str) -> None:
        """Forgets `token` (WeChat rejected it), unless a newer one has replaced it already."""

    def try_lock(self) -> bool:
        """True when this process may fetch a new token now; False while another fetches."""

    def unlock(self) -> None:
        """Ends this process's fetch."""


@dataclass
class _Entry:
    token: str
    expires_at: float


class LocalTokenCache:
    """One process's token; its fetches are serialised by the client's own asyncio lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entry: _Entry | None = None

    def get(self) -> str | None:
        if self._entry is not None and self._clock() < self._entry.expires_at:
            return self._entry.token
        return None

    def put(self, token: str, ttl_seconds: float) -> None:
        self._entry = _Entry(token, self._clock() + ttl_seconds)

    def drop(self, token: str) -> None:
        if self._entry is not None and self._entry.token == token:
            self._entry = None

    def try_lock(self) -> bool:
        return True

    def unlock(self) -> None:
        pass


class RedisTokenCache:
    """The token in Redis under one key per AppID, with a fetch lock beside it."""

    def __init__(self, url: str, app_id: str, fallback: LocalTokenCache | None = None,
                 fetch_lock_seconds: float = 10.0, prefix: str = "assistant:wechat:") -> None:
        import redis  # in both runtimes; only the scaled profile needs it

        self.red: Any = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._key = f"{prefix}token:{app_id}"
        self._lock_key = f"{prefix}token-fetch:{app_id}"
        self._lock_ms = max(1, int(fetch_lock_seconds * 1000))
        self._owner = secrets.token_hex(8).encode()  # our lock value: never release another's
        self.fallback = fallback or LocalTokenCache()

    def _failed(self, what: str, exc: Exception) -> None:
        log.error("wechat: Redis %s of the access token failed (%s); this process keeps its "
                  "own token", what, exc)

    def get(self) -> str | None:
        try:
            value = self.red.get(self._key)
        except Exception as exc:  # redis.RedisError, OSError
            self._failed("read", exc)
            return self.fallback.get()
        return value.decode() if value else None

    def put(self, token: str, ttl_seconds: float) -> None:
        self.fallback.put(token, ttl_seconds)
        try:
            self.red.set(self._key, token.encode(), px=max(1, int(ttl_seconds * 1000)))
        except Exception as exc:
            self._failed("write", exc)

    def drop(self, token: str) -> None:
        self.fallback.drop(token)
        self._delete_if(self._key, token.encode(), "drop")

    def try_lock(self) -> bool:
        try:
            return bool(self.red.set(self._lock_key, self._owner, nx=True, px=self._lock_ms))
        except Exception as exc:
            self._failed("fetch lock", exc)
            return True  # decide alone rather than never fetch

    def unlock(self) -> None:
        self._delete_if(self._lock_key, self._owner, "fetch unlock")

    def _delete_if(self, key: str, expected: bytes, what: str) -> None:
        """Deletes `key` only while it holds `expected` (WATCH/MULTI: no read-then-delete race
        with another instance that has just written a newer value)."""
        import redis

        try:
            with self.red.pipeline() as pipe:
                pipe.watch(key)
                if pipe.get(key) != expected:
                    pipe.unwatch()
                    return
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
        except redis.WatchError:
            pass  # changed meanwhile: the new value stays
        except Exception as exc:
            self._failed(what, exc)


def token_cache(redis_url: str, app_id: str,
                clock: Callable[[], float] = time.monotonic) -> TokenCache:
    """Redis when a URL is configured (several instances), else this process's memory."""
    local = LocalTokenCache(clock)
    return RedisTokenCache(redis_url, app_id, local) if redis_url else local
