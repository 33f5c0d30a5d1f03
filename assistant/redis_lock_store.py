"""Rasa's Redis lock store, made safe across processes.

Rasa serialises the turns of one conversation with a ticket lock. Its `RedisLockStore`
(Rasa Open Source 3.6) reads the lock, adds or removes a ticket in Python and writes it back:
two Rasa instances that take messages of the same user at the same moment both read "no
lock", both take ticket 0, and process the turns side by side; one turn's events are then
lost from the tracker store (tests/scaled caught this). Here each read-modify-write runs
as one optimistic Redis transaction (WATCH/MULTI/EXEC, retried when another instance changed
the lock in between), so ticket numbers are unique and a conversation has one turn at a time.
The lock key also expires with its last ticket, so an instance that dies holding a lock does
not leave the key behind.

A waiting turn also renews its own ticket while it waits. Rasa gives every ticket the same
lifetime from the moment it is issued, so when an instance dies holding a lock, its ticket
and the ticket of the user's next message (issued a moment later, elsewhere) expire about
together; Rasa then finds no ticket being served, yet still calls the waiter locked, and the
turn hangs until the client gives up (tests/scaled caught 30 s hangs after a kill). Renewed,
the waiter's ticket outlives the dead one, and the user is answered once the dead ticket's
lifetime (TICKET_LOCK_LIFETIME) is over.

Endpoints: `lock_store: type: assistant.redis_lock_store.AtomicRedisLockStore` with the same
keys as Rasa's `redis` lock store (url, port, db, password, key_prefix, ...).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
# A change to the lock: the lock as stored (None: none) -> (lock to store or None, result).
LockChange = Callable[[TicketLock | None], tuple[TicketLock | None, T]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds custom lock stores with the endpoint config alone.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)
        self._lifetimes: dict[tuple[str, int], float] = {}  # this process's tickets

    def _change(self, conversation_id: str, change: LockChange[T]) -> T:
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    stored = TicketLock.from_dict(json.loads(raw)) if raw else None
                    lock, result = change(stored)
                    pipe.multi()
                    if lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, lock.dumps(), ex=_seconds_to_live(lock))
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another instance changed the lock first: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            ticket = self._change(conversation_id, issue)
        except redis.RedisError as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc
        self._lifetimes[(conversation_id, ticket)] = lock_lifetime
        return ticket

    async def _acquire_lock(self, conversation_id: str, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        lifetime = self._lifetimes.get((conversation_id, ticket), LOCK_LIFETIME)

        def renew(lock: TicketLock | None) -> tuple[TicketLock, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            lock.remove_expired_tickets()
            expires = time.time() + lifetime
            mine = next((t for t in lock.tickets if t.number == ticket), None)
            if mine is not None:
                mine.expires = expires
            else:  # this process stalled past the lifetime: queue again in number order
                lock.tickets.append(Ticket(ticket, expires))
                lock.tickets = type(lock.tickets)(sorted(lock.tickets, key=lambda t: t.number))
            return lock, lock

        while True:
            lock = self._change(conversation_id, renew)
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._lifetimes.pop((conversation_id, ticket_number), None)

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)


def _seconds_to_live(lock: TicketLock) -> int:
    last_expiry = max((t.expires for t in lock.tickets), default=time.time())
    return max(1, math.ceil(last_expiry - time.time()) + 1)
