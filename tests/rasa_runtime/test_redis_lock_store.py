"""The Redis lock store used by the scaled profile, against a real Redis server: ticket
numbers stay unique when several processes take tickets for one conversation at once, which
Rasa's own RedisLockStore does not guarantee."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

from assistant.redis_lock_store import AtomicRedisLockStore

PROCESSES, TICKETS_EACH = 4, 25


def take_tickets(port: int, conversation: str, start: float, out: multiprocessing.Queue) -> None:
    store = AtomicRedisLockStore(host="127.0.0.1", port=port, key_prefix="test")
    while time.time() < start:  # every process starts at the same instant
        pass
    out.put([store.issue_ticket(conversation, 30) for _ in range(TICKETS_EACH)])


def test_tickets_are_unique_across_processes(redis_port: int) -> None:
    out: multiprocessing.Queue = multiprocessing.Queue()
    start = time.time() + 1.0
    workers = [multiprocessing.Process(target=take_tickets,
                                       args=(redis_port, "owner-1", start, out))
               for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    tickets = [t for _ in workers for t in out.get(timeout=30)]
    for w in workers:
        w.join()
    assert sorted(tickets) == list(range(PROCESSES * TICKETS_EACH))


def test_cleanup_deletes_the_lock_when_nobody_waits(redis_port: int) -> None:
    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, key_prefix="test")
    first = store.issue_ticket("owner-2", 30)
    second = store.issue_ticket("owner-2", 30)
    store.cleanup("owner-2", first)
    assert store.get_lock("owner-2") is not None  # the second ticket still waits
    store.cleanup("owner-2", second)
    assert store.get_lock("owner-2") is None
    ttl = store.red.ttl(store.key_prefix + "owner-3")
    assert ttl == -2  # never created


def test_lock_key_expires_with_its_last_ticket(redis_port: int) -> None:
    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, key_prefix="test")
    store.issue_ticket("owner-4", 5)
    assert 0 < store.red.ttl(store.key_prefix + "owner-4") <= 6


def test_built_from_the_endpoint_config(redis_port: int) -> None:
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    store = LockStore.create(EndpointConfig(
        type="assistant.redis_lock_store.AtomicRedisLockStore", url="127.0.0.1",
        port=str(redis_port), db="1", key_prefix="assistant"))
    assert isinstance(store, AtomicRedisLockStore)
    assert store.issue_ticket("owner-5", 5) == 0


def test_a_lock_held_by_a_dead_instance_is_taken_once_its_ticket_expires(
        redis_port: int) -> None:
    """The dead instance's ticket and the waiter's are issued a moment apart with the same
    lifetime; the waiter must not expire with it and wait for ever."""
    dead = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, key_prefix="test")
    survivor = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, key_prefix="test")
    dead.issue_ticket("owner-6", 1.5)  # then the instance dies: no cleanup, ever

    async def next_turn() -> float:
        started = time.monotonic()
        async with survivor.lock("owner-6", lock_lifetime=1.5, wait_time_in_seconds=1.0):
            return time.monotonic() - started

    waited = asyncio.run(asyncio.wait_for(next_turn(), timeout=10))
    assert 0.5 < waited < 4


def test_a_waiter_is_served_in_ticket_order(redis_port: int) -> None:
    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, key_prefix="test")
    order: list[str] = []

    async def turn(name: str, hold: float) -> None:
        async with store.lock("owner-7", lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append(name)
            await asyncio.sleep(hold)

    async def both() -> None:
        first = asyncio.create_task(turn("first", 0.3))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, turn("second", 0))

    asyncio.run(both())
    assert order == ["first", "second"]
