"""Customer-service message client: the access token is cached, refreshed before expiry and
after WeChat rejects it; sends go to the configured base URL only."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from assistant.channels.wechat_api import CustomerServiceClient, WeChatApiError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTransport:
    """Answers like WeChat's API; `send_errors` are errcodes returned by the next sends."""

    def __init__(self, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.calls: list[tuple[str, str, dict[str, str], Mapping[str, Any] | None]] = []
        self.issued = 0
        self.send_errors: list[int] = []
        self.network_failures = 0

    async def request(self, method, url, params, json_body):
        self.calls.append((method, url, dict(params), json_body))
        await asyncio.sleep(0)
        if url.endswith("/cgi-bin/token"):
            if params.get("secret") != "s3cret":
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.issued += 1
            return {"access_token": f"T{self.issued}", "expires_in": self.expires_in}
        if self.network_failures:
            self.network_failures -= 1
            raise WeChatApiError("ClientConnectorError")
        if self.send_errors:
            code = self.send_errors.pop(0)
            return {"errcode": code, "errmsg": "err"}
        return {"errcode": 0, "errmsg": "ok"}

    async def close(self) -> None:
        pass

    def sends(self) -> list[tuple[str, Mapping[str, Any] | None]]:
        return [(p["access_token"], body) for m, u, p, body in self.calls if m == "POST"]


async def _no_sleep(_: float) -> None:
    return None


def client(transport: FakeTransport, clock: Clock | None = None,
           secret: str = "s3cret") -> CustomerServiceClient:
    return CustomerServiceClient("http://127.0.0.1:9/", "wxappid", secret, transport=transport,
                                 clock=clock or Clock(), sleep=_no_sleep)


def test_send_text_posts_wechat_json_to_the_configured_base() -> None:
    t = FakeTransport()
    asyncio.run(client(t).send_text("oUser1", "您好"))
    (m1, u1, p1, _), (m2, u2, p2, body) = t.calls
    assert (m1, u1) == ("GET", "http://127.0.0.1:9/cgi-bin/token")
    assert p1 == {"grant_type": "client_credential", "appid": "wxappid", "secret": "s3cret"}
    assert (m2, u2, p2) == ("POST", "http://127.0.0.1:9/cgi-bin/message/custom/send",
                            {"access_token": "T1"})
    assert body == {"touser": "oUser1", "msgtype": "text", "text": {"content": "您好"}}


def test_token_is_cached_and_refreshed_before_expiry() -> None:
    t, clock = FakeTransport(expires_in=7200), Clock()
    c = client(t, clock)

    async def scenario() -> None:
        await c.send_text("o1", "a")
        clock.now = 6000
        await c.send_text("o1", "b")  # still valid: cached
        clock.now = 6950  # within the 300 s margin before expiry: fetched anew
        await c.send_text("o1", "c")

    asyncio.run(scenario())
    assert t.issued == 2
    assert [tok for tok, _ in t.sends()] == ["T1", "T1", "T2"]


def test_concurrent_senders_fetch_one_token() -> None:
    t = FakeTransport()
    c = client(t)

    async def scenario() -> None:
        await asyncio.gather(*(c.send_text(f"o{i}", "x") for i in range(10)))

    asyncio.run(scenario())
    assert t.issued == 1 and len(t.sends()) == 10


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_rejected_token_is_replaced_and_the_send_retried_once(errcode: int) -> None:
    t = FakeTransport()
    t.send_errors = [errcode]
    asyncio.run(client(t).send_text("o1", "x"))
    assert t.issued == 2 and [tok for tok, _ in t.sends()] == ["T1", "T2"]


def test_persistent_errors_raise_with_the_errcode() -> None:
    t = FakeTransport()
    t.send_errors = [40001, 40001]
    with pytest.raises(WeChatApiError) as info:
        asyncio.run(client(t).send_text("o1", "x"))
    assert info.value.errcode == 40001
    t2 = FakeTransport()
    t2.send_errors = [45015]  # user has not talked to us within 48 h: no retry
    with pytest.raises(WeChatApiError):
        asyncio.run(client(t2).send_text("o1", "x"))
    assert len(t2.sends()) == 1


def test_transient_and_network_errors_are_retried_once() -> None:
    t = FakeTransport()
    t.send_errors = [-1]
    asyncio.run(client(t).send_text("o1", "x"))
    assert len(t.sends()) == 2
    t2 = FakeTransport()
    t2.network_failures = 1
    asyncio.run(client(t2).send_text("o1", "x"))
    assert len(t2.sends()) == 2


def test_bad_secret_is_an_error_and_never_shown() -> None:
    t = FakeTransport()
    c = client(t, secret="wrong")
    with pytest.raises(WeChatApiError) as info:
        asyncio.run(c.send_text("o1", "x"))
    assert info.value.errcode == 40125
    assert "wrong" not in repr(c) and "wrong" not in str(info.value)
