"""The customer-service access token shared through a real Redis by several "instances".

Each instance is a CustomerServiceClient with its own RedisTokenCache, as two Rasa servers
and the console have in the scaled profile; WeChat is the fake transport of the unit tests,
shared by all, so that `issued` counts the tokens WeChat handed out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from assistant.channels.wechat_api import CustomerServiceClient
from assistant.channels.wechat_token_cache import RedisTokenCache
from tests.unit.assistant.channels.test_wechat_api import FakeTransport


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def app_id() -> str:
    return f"wx{uuid.uuid4().hex[:8]}"  # a fresh key space per test


def _instance(url: str, app_id: str, wechat: FakeTransport) -> CustomerServiceClient:
    return CustomerServiceClient("http://127.0.0.1:9/", app_id, "s3cret", transport=wechat,
                                 sleep=_no_sleep, token_cache=RedisTokenCache(url, app_id))


def test_instances_share_one_token(redis_port: int, app_id: str) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    wechat = FakeTransport()
    a, b, c = (_instance(url, app_id, wechat) for _ in range(3))

    async def scenario() -> None:
        await asyncio.gather(*(client.send_text(f"o{i}", "x")
                               for i in range(4) for client in (a, b, c)))

    asyncio.run(scenario())
    assert wechat.issued == 1
    assert {token for token, _ in wechat.sends()} == {"T1"}


def test_a_rejected_token_is_replaced_once_for_everyone(redis_port: int, app_id: str) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    wechat = FakeTransport()
    a, b = _instance(url, app_id, wechat), _instance(url, app_id, wechat)
    asyncio.run(a.send_text("o1", "x"))
    wechat.send_errors = [40001]  # WeChat retired T1
    asyncio.run(a.send_text("o1", "y"))
    asyncio.run(b.send_text("o2", "z"))  # b never fetches: it finds T2
    assert wechat.issued == 2
    assert [token for token, _ in wechat.sends()] == ["T1", "T1", "T2", "T2"]


def test_dropping_a_stale_token_keeps_the_newer_one(redis_port: int, app_id: str) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    one, other = RedisTokenCache(url, app_id), RedisTokenCache(url, app_id)
    one.put("T1", 60)
    other.put("T2", 60)  # another instance already replaced it
    one.drop("T1")  # a late rejection of T1 must not throw T2 away
    assert one.get() == "T2" and other.get() == "T2"
    one.drop("T2")
    assert other.get() is None


def test_a_fetch_lock_left_by_a_dead_instance_does_not_block_for_good(
    redis_port: int, app_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    dead = RedisTokenCache(url, app_id, fetch_lock_seconds=600)
    assert dead.try_lock()  # ...and never fetches or unlocks
    wechat = FakeTransport()
    waiting = _instance(url, app_id, wechat)
    with caplog.at_level(logging.WARNING):
        asyncio.run(waiting.send_text("o1", "x"))
    assert wechat.issued == 1
    assert "fetching here" in caplog.text


def test_without_redis_each_instance_keeps_its_own_token(
    app_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    wechat = FakeTransport()
    client = _instance("redis://127.0.0.1:1/0", app_id, wechat)  # nothing listens on port 1
    with caplog.at_level(logging.ERROR):
        asyncio.run(client.send_text("o1", "x"))
        asyncio.run(client.send_text("o1", "y"))
    assert wechat.issued == 1  # the process's own cache still spares a fetch
    assert [token for token, _ in wechat.sends()] == ["T1", "T1"]
    assert "keeps its own token" in caplog.text
