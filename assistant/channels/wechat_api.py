"""Client of WeChat's customer-service message API, used when an answer misses the passive window.

    GET  {api_base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…
         -> {"access_token": "…", "expires_in": 7200}
    POST {api_base}/cgi-bin/message/custom/send?access_token=…
         {"touser": OPENID, "msgtype": "text", "text": {"content": "…"}} -> {"errcode": 0, …}

The access token is cached and fetched again before it expires (a margin before `expires_in`),
once for all concurrent senders; a reply saying the token is invalid or expired drops it and
the send is retried once with a fresh one. `api_base` is configurable so that tests talk to a
local fake; nothing here hard-codes WeChat's host. The HTTP transport is injectable (the
default uses aiohttp, which the Rasa runtime ships).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# errcodes meaning "this access_token is no good": invalid, expired, not the latest.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# errcodes worth one more try after a pause: system busy, API frequency limit.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})


class WeChatApiError(RuntimeError):
    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class Transport(Protocol):
    async def request(
        self, method: str, url: str, params: Mapping[str, str],
        json_body: Mapping[str, Any] | None,
    ) -> Mapping[str, Any]: ...

    async def close(self) -> None: ...


def parse_reply(body: str, url: str) -> Mapping[str, Any]:
    """WeChat's JSON object, or WeChatApiError naming the endpoint (never the token)."""
    endpoint = url.split("?")[0]
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise WeChatApiError(f"non-JSON reply from {endpoint}") from exc
    if not isinstance(parsed, dict):
        raise WeChatApiError(f"unexpected reply from {endpoint}")
    return parsed


class AiohttpTransport:
    """JSON over HTTP with aiohttp; one session, created in the running event loop."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._session: Any = None

    async def request(
        self, method: str, url: str, params: Mapping[str, str],
        json_body: Mapping[str, Any] | None,
    ) -> Mapping[str, Any]:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds))
        # ensure_ascii=False: WeChat shows \uXXXX escapes of Chinese text literally.
        data = (json.dumps(json_body, ensure_ascii=False).encode("utf-8")
                if json_body is not None else None)
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else None
        try:
            async with self._session.request(
                method, url, params=dict(params), data=data, headers=headers,
            ) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise WeChatApiError(f"HTTP {resp.status} from {url.split('?')[0]}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise WeChatApiError(f"{type(exc).__name__} calling {url.split('?')[0]}") from exc
        return parse_reply(body, url)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@dataclass
class _Token:
    value: str
    refresh_at: float


class CustomerServiceClient:
    def __init__(
        self, api_base: str, app_id: str, app_secret: str,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_seconds: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_pause_seconds: float = 1.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.transport: Transport = transport or AiohttpTransport()
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._sleep = sleep
        self._retry_pause = retry_pause_seconds
        self._token: _Token | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:  # never shows the secret or the token
        return f"CustomerServiceClient(api_base={self.api_base!r}, app_id={self.app_id!r})"

    async def access_token(self) -> str:
        """The cached token, fetched anew when missing or close to expiry (one fetch at a time)."""
        if self._token is not None and self._clock() < self._token.refresh_at:
            return self._token.value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is not None and self._clock() < self._token.refresh_at:
                return self._token.value  # another sender fetched it while we waited
            reply = await self.transport.request(
                "GET", f"{self.api_base}/cgi-bin/token",
                {"grant_type": "client_credential", "appid": self.app_id,
                 "secret": self._secret},
                None,
            )
            token = reply.get("access_token")
            if not isinstance(token, str) or not token:
                errcode = _errcode(reply)
                raise WeChatApiError(
                    f"no access_token (errcode {errcode}: {reply.get('errmsg', '')})", errcode)
            try:
                expires_in = float(reply.get("expires_in", 7200))
            except (TypeError, ValueError):
                expires_in = 7200.0
            now = self._clock()
            # Refresh a margin before expiry, or half-way through for short-lived tokens.
            self._token = _Token(token, now + max(expires_in - self._margin, expires_in / 2))
            log.info("wechat: new access token, valid %.0fs", expires_in)
            return token

    def invalidate_token(self) -> None:
        self._token = None

    async def send_text(self, openid: str, content: str) -> None:
        """Sends one text message; raises WeChatApiError when WeChat refuses it."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        refreshed = retried = False
        while True:
            token = await self.access_token()
            try:
                reply = await self.transport.request(
                    "POST", f"{self.api_base}/cgi-bin/message/custom/send",
                    {"access_token": token}, body,
                )
            except WeChatApiError:
                if retried:
                    raise
                retried = True  # network trouble: one more try after a pause
                await self._sleep(self._retry_pause)
                continue
            errcode = _errcode(reply)
            if errcode == 0:
                return
            if errcode in TOKEN_ERRORS and not refreshed:
                log.warning("wechat: access token rejected (errcode %s); fetching a new one",
                            errcode)
                self.invalidate_token()
                refreshed = True
                continue
            if errcode in TRANSIENT_ERRORS and not retried:
                retried = True
                await self._sleep(self._retry_pause)
                continue
            raise WeChatApiError(
                f"custom/send refused (errcode {errcode}: {reply.get('errmsg', '')})", errcode)

    async def close(self) -> None:
        await self.transport.close()


def _errcode(reply: Mapping[str, Any]) -> int:
    try:
        return int(reply.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
