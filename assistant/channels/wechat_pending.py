"""Answers that could not be delivered yet, kept until the user's next message.

WeChat allows one passive reply per message, within 5 s. When an answer is not ready in time
and the account has no customer-service API (or the API refused it), the user was told the
answer will come with their next message; it waits here, per OpenID, oldest first, and the
channel takes as many as fit into the next passive reply (`wechat.py`).

`PendingAnswers` keeps them in this process, bounded (users and answers per user) and
expiring; `RedisPendingAnswers` keeps them in Redis (one list per OpenID, the same TTL), so
that the next message may land on any Rasa instance of the scaled profile. Should Redis fail,
answers stay in this process's memory and the cause is logged: an answer may then come only
when the next message reaches this instance, but it is not dropped.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 48 * 3600.0  # WeChat's customer-service window is 48 h too


@dataclass(frozen=True)
class PendingAnswer:
    question: str  # what the user asked, shown with the answer
    text: str  # the answer in WeChat's markup (wechat_text.render_bot_messages)
    at: float = 0.0  # when it was kept (UNIX time)

    def to_json(self) -> str:
        return json.dumps({"question": self.question, "text": self.text, "at": self.at},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> PendingAnswer:
        data = json.loads(raw)
        return cls(str(data["question"]), str(data["text"]), float(data.get("at") or 0.0))


class PendingStore(Protocol):
    def add(self, openid: str, answer: PendingAnswer) -> None: ...
    def pop(self, openid: str) -> PendingAnswer | None: ...
    def push_back(self, openid: str, answer: PendingAnswer) -> None: ...
    def count(self, openid: str) -> int: ...


class PendingAnswers:
    """In this process: at most `max_users` users (the least recently used dropped first) and
    `max_per_user` answers each; answers older than `ttl_seconds` are dropped when read. Every
    drop is logged (the answer itself stays in the conversation for staff)."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_users: int = 10_000,
                 max_per_user: int = 20, clock: Callable[[], float] = time.time) -> None:
        if ttl_seconds <= 0 or max_users <= 0 or max_per_user <= 0:
            raise ValueError("ttl_seconds, max_users and max_per_user must be positive")
        self.ttl = ttl_seconds
        self.max_users = max_users
        self.max_per_user = max_per_user
        self._clock = clock
        self._queues: OrderedDict[str, deque[PendingAnswer]] = OrderedDict()

    def add(self, openid: str, answer: PendingAnswer) -> None:
        if not answer.at:
            answer = PendingAnswer(answer.question, answer.text, self._clock())
        queue = self._queues.pop(openid, None) or deque()
        queue.append(answer)
        while len(queue) > self.max_per_user:
            dropped = queue.popleft()
            log.error("wechat: too many waiting answers for %s; dropped the one to %r",
                      openid, dropped.question[:40])
        self._queues[openid] = queue
        while len(self._queues) > self.max_users:
            user, lost = self._queues.popitem(last=False)
            log.error("wechat: waiting answers of %s dropped (%d; too many users waiting)",
                      user, len(lost))

    def pop(self, openid: str) -> PendingAnswer | None:
        queue = self._queues.get(openid)
        while queue:
            answer = queue.popleft()
            if self._clock() - answer.at <= self.ttl:
                if not queue:
                    del self._queues[openid]
                return answer
            log.warning("wechat: waiting answer for %s expired (asked %r)",
                        openid, answer.question[:40])
        self._queues.pop(openid, None)
        return None

    def push_back(self, openid: str, answer: PendingAnswer) -> None:
        """Returns an answer taken by `pop` that did not fit, at the front of the queue."""
        self._queues.setdefault(openid, deque()).appendleft(answer)

    def count(self, openid: str) -> int:
        return len(self._queues.get(openid) or ())


class RedisPendingAnswers:
    """One Redis list per OpenID (RPUSH to keep, LPOP to take; each pop is atomic, so an
    answer goes out once even when two instances take at the same time), expiring after the
    TTL. Redis errors fall back to this process's `PendingAnswers`."""

    def __init__(self, url: str, fallback: PendingAnswers,
                 prefix: str = "assistant:wechat:pending:") -> None:
        import redis  # in Rasa's runtime; only the scaled profile needs it

        self.red = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.fallback = fallback
        self.ttl = max(1, int(fallback.ttl))
        self.prefix = prefix

    def add(self, openid: str, answer: PendingAnswer) -> None:
        if not answer.at:
            answer = PendingAnswer(answer.question, answer.text, time.time())
        key = self.prefix + openid
        try:
            pipe = self.red.pipeline()
            pipe.rpush(key, answer.to_json())
            pipe.ltrim(key, -self.fallback.max_per_user, -1)
            pipe.expire(key, self.ttl)
            pipe.execute()
        except Exception as exc:  # redis.RedisError, OSError: keep it here instead
            log.error("wechat: Redis could not keep an answer for %s (%s); kept in this "
                      "instance", openid, exc)
            self.fallback.add(openid, answer)

    def pop(self, openid: str) -> PendingAnswer | None:
        local = self.fallback.pop(openid)
        if local is not None:
            return local
        try:
            raw = self.red.lpop(self.prefix + openid)
        except Exception as exc:
            log.error("wechat: Redis could not give the waiting answers of %s (%s)", openid, exc)
            return None
        if raw is None:
            return None
        try:
            return PendingAnswer.from_json(raw)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("wechat: unreadable waiting answer for %s dropped (%s)", openid, exc)
            return None

    def push_back(self, openid: str, answer: PendingAnswer) -> None:
        key = self.prefix + openid
        try:
            pipe = self.red.pipeline()
            pipe.lpush(key, answer.to_json())
            pipe.expire(key, self.ttl)
            pipe.execute()
        except Exception as exc:
            log.error("wechat: Redis could not keep an answer for %s (%s); kept in this "
                      "instance", openid, exc)
            self.fallback.push_back(openid, answer)

    def count(self, openid: str) -> int:
        try:
            remote = int(self.red.llen(self.prefix + openid))
        except Exception as exc:
            log.error("wechat: Redis could not count the waiting answers of %s (%s)", openid, exc)
            remote = 0
        return remote + self.fallback.count(openid)


def pending_store(redis_url: str = "", ttl_seconds: float = DEFAULT_TTL_SECONDS) -> PendingStore:
    local = PendingAnswers(ttl_seconds)
    return RedisPendingAnswers(redis_url, local) if redis_url else local
