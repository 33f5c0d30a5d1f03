"""Staff replies: stored in the conversation through Rasa's HTTP API, delivered on the
channel the user came from.

REST users read staff replies from the conversation (`GET /webhooks/rest/outbox`, with the
token their client got with its replies), so storing the reply is delivering it. WeChat users
cannot be reached by a passive reply once their request is over: the reply goes through the
customer-service message API (WeChat allows it for 48 hours after the user's last message),
with the client of the WeChat channel, to the OpenID the conversation is stored under
(`conversation.channels`: the sender id, or `wechat:<OpenID>`).

Rasa's HTTP API names the conversation in the URL path and does not decode it, so events are
sent only for a sender id that the path carries unchanged (`conversation.senders`); any other
is refused here rather than written into the conversation its encoded form names.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from assistant.channels.staff_replies import STAFF_METADATA_KEY
from assistant.channels.wechat_api import CustomerServiceClient, WeChatApiError, parse_reply
from assistant.channels.wechat_config import WeChatSettings
from assistant.channels.wechat_text import split_for_wechat
from assistant.channels.wechat_token_cache import token_cache
from assistant.settings import RuntimeSettings
from conversation.channels import WECHAT, wechat_openid
from conversation.senders import is_valid_sender_id
from conversation.slots import NEEDS_HUMAN

log = logging.getLogger(__name__)

WECHAT_CHANNEL = WECHAT


class DeliveryError(RuntimeError):
    """The reply could not be stored or sent; the message says which, for staff."""


class UnroutableSender(DeliveryError):
    """The sender id would not reach Rasa unchanged in a URL path (`conversation.senders`)."""


class HttpxTransport:
    """The WeChat client's transport over httpx (the console's runtime has no aiohttp)."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds)

    async def request(self, method: str, url: str, params: Mapping[str, str],
                      json_body: Mapping[str, Any] | None) -> Mapping[str, Any]:
        content = (json.dumps(json_body, ensure_ascii=False).encode("utf-8")
                   if json_body is not None else None)
        try:
            resp = await self._client.request(
                method, url, params=dict(params), content=content,
                headers={"Content-Type": "application/json; charset=utf-8"} if content else None)
        except httpx.HTTPError as exc:
            raise WeChatApiError(f"{type(exc).__name__} calling {url}") from exc
        if resp.status_code != 200:
            raise WeChatApiError(f"HTTP {resp.status_code} from {url}")
        return parse_reply(resp.text, url)

    async def close(self) -> None:
        await self._client.aclose()


class RasaGateway:
    """What the console asks of the running Rasa server."""

    def __init__(self, settings: RuntimeSettings, wechat: WeChatSettings | None = None,
                 timeout_seconds: float = 30.0) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(timeout=timeout_seconds)
        self._wechat = wechat if wechat is not None else WeChatSettings.from_env()
        self._wechat_client: CustomerServiceClient | None = None

    async def close(self) -> None:
        await self._http.aclose()
        if self._wechat_client is not None:
            await self._wechat_client.close()

    async def chat(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        """One user turn over the REST channel, exactly as a user's client sends it."""
        resp = await self._http.post(f"{self.settings.rasa_url}/webhooks/rest/webhook",
                                     json={"sender": sender_id, "message": text})
        resp.raise_for_status()
        return resp.json()

    def _events_url(self, sender_id: str) -> httpx.URL:
        """Rasa's URL for the events of `sender_id`, only if the path carries the id as it is."""
        path = f"/conversations/{sender_id}/tracker/events"
        url = httpx.URL(f"{self.settings.rasa_url}{path}")
        if (not is_valid_sender_id(sender_id) or url.raw_path.decode("ascii") != url.path
                or not url.path.endswith(path)):
            raise UnroutableSender("这个会话的用户标识含有无法安全转发的字符，未写入任何会话")
        return url

    async def _append(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        url = self._events_url(sender_id)
        try:
            resp = await self._http.post(
                url, params={"token": self.settings.rasa_api_token, "include_events": "NONE"},
                json=events)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Rasa server unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise DeliveryError(f"Rasa refused the events: HTTP {resp.status_code}")

    async def take_over(self, sender_id: str, staff: str) -> None:
        log.info("console: %s takes over %s", staff, sender_id)
        await self._append(sender_id, [{"event": "pause", "timestamp": time.time()}])

    async def release(self, sender_id: str, staff: str) -> None:
        log.info("console: %s hands %s back to the assistant", staff, sender_id)
        now = time.time()
        await self._append(sender_id, [
            {"event": "resume", "timestamp": now},
            {"event": "slot", "name": NEEDS_HUMAN, "value": False, "timestamp": now}])

    async def reply(self, sender_id: str, channel: str | None, text: str, staff: str) -> str:
        """Stores the reply in the conversation, then delivers it; returns how it went out."""
        await self._append(sender_id, [{"event": "bot", "text": text, "timestamp": time.time(),
                                        "metadata": {STAFF_METADATA_KEY: staff}}])
        if channel != WECHAT_CHANNEL:
            return "rest"  # the user's client reads it from /webhooks/rest/outbox
        if not self._wechat.can_push:
            raise DeliveryError("已存入会话，但未配置微信 AppSecret，无法推送给微信用户")
        if self._wechat_client is None:
            self._wechat_client = CustomerServiceClient(
                self._wechat.api_base, self._wechat.app_id, self._wechat.app_secret,
                transport=HttpxTransport(self._wechat.api_timeout_seconds),
                token_cache=token_cache(self._wechat.dedup_redis_url, self._wechat.app_id))
        openid = wechat_openid(sender_id)
        try:
            for part in split_for_wechat(text, self._wechat.max_reply_bytes):
                await self._wechat_client.send_text(openid, part)
        except WeChatApiError as exc:
            log.error("console: WeChat delivery to %s failed: %s", openid, exc)
            raise DeliveryError("已存入会话，但微信推送失败，请稍后再试") from exc  # cause: logged
        return "wechat"
