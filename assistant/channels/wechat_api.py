"""Client of WeChat's customer-service message API, used when an answer misses the passive window.

    GET  {api_base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…
         -> {"access_token": "…", "expires_in": 7200}
    POST {api_base}/cgi-bin/message/custom/send?access_token=…
         {"touser": OPENID, "msgtype": "text", "text": {"content": "…"}} -> {"errcode": 0, …}

The access token is cached and fetched again before it expires (a margin before `expires_in`),
once for all concurrent senders, and shared by all instances through Redis when configured
(assistant/channels/wechat_token_cache.py); a reply saying the token is invalid or expired
drops it and the send is retried once with a fresh one. `api_base` is configurable so that
tests talk to a local fake; nothing here hard-codes WeChat's host. The HTTP transport is
injectable (the default uses aiohttp, which the Rasa runtime ships).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from assistant.channels.wechat_token_cache import LocalTokenCache, TokenCache

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


# While another process fetches the token (RedisTokenCache), poll for its result this often,
# this many times, before fetching anyway (its holder may have died mid-fetch).
FETCH_WAIT_POLL_SECONDS = 0.1
FETCH_WAIT_POLLS = 50


class CustomerServiceClient:
    def __init__(
        self, api_base: str, app_id: str, app_secret: str,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_seconds: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_pause_seconds: float = 1.0,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.transport: Transport = transport or AiohttpTransport()
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._sleep = sleep
        self._retry_pause = retry_pause_seconds
        self._tokens: TokenCache = token_cache or LocalTokenCache(clock)
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:  # never shows the secret or the token
        return f"CustomerServiceClient(api_base={self.api_base!r}, app_id={self.app_id!r})"

    async def access_token(self) -> str:
        """The cached token, fetched anew when missing or close to expiry (one fetch at a time
        in this process, and across processes when the cache is shared)."""
        if token := self._tokens.get():
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if token := self._tokens.get():
                return token  # another sender fetched it while we waited
            for _ in range(FETCH_WAIT_POLLS):
                if self._tokens.try_lock():
                    break
                await self._sleep(FETCH_WAIT_POLL_SECONDS)  # another process is fetching
                if token := self._tokens.get():
                    return token
            else:
                log.warning("wechat: no access token from the process fetching it; fetching here")
            try:
                token, expires_in = await self._fetch_token()
                # Renew a margin before expiry, or half-way through for short-lived tokens.
                self._tokens.put(token, max(expires_in - self._margin, expires_in / 2))
            finally:
                self._tokens.unlock()
            log.info("wechat: new access token, valid %.0fs", expires_in)
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await self.transport.request(
            "GET", f"{self.api_base}/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret},
            None,
        )
        token = reply.get("access_token")
        if not isinstance(token, str) or not token:
            errcode = _errcode(reply)
            raise WeChatApiError(
                f"no access_token (errcode {errcode}: {reply.get('errmsg', '')})", errcode)
        try:
            return token, float(reply.get("expires_in", 7200))
        except (TypeError, ValueError):
            return token, 7200.0

    def invalidate_token(self, token: str) -> None:
        """WeChat rejected `token`: forget it (a newer one fetched meanwhile is kept)."""
        self._tokens.drop(token)

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
                self.invalidate_token(token)
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
