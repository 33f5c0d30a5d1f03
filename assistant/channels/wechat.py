"""WeChat Official Account bridge: a Rasa input channel named `wechat`.

    GET  /webhooks/wechat/webhook   URL verification (signature, timestamp, nonce, echostr)
    POST /webhooks/wechat/webhook   messages and events, plaintext or safe (AES) mode
    GET  /webhooks/wechat/          health: whether the channel is configured, and how

A user is their OpenID (the Rasa sender id), so each WeChat user has one conversation. A text
(or a voice message with WeChat's recognition text) goes through the assistant like a REST
message, guarded by `guard_turn` so that a failed turn still gets a polite reply. When the
answer is ready within the passive budget (default 4 s; WeChat gives up after 5 s and retries)
it goes back as the passive XML reply; otherwise the request is answered "success" at once and
the answer follows through the customer-service message API (`wechat_api`). Answers longer
than one WeChat message are split (`wechat_text`): the first part as the passive reply, the rest
pushed after it. Every message is claimed once by MsgId (events: FromUserName + CreateTime),
so WeChat's retries, early or late, are acknowledged and never answered again.

Requests that are not from WeChat (wrong or missing signature, stale timestamp) get 403; bodies
that cannot be read (malformed or hostile XML, not decryptable) 400; bodies over the size limit
413. All are logged with the reason and never reach the assistant. Setup: docs/wechat.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.channels.messages import MESSAGES
from assistant.channels.rest import guard_turn
from assistant.channels.wechat_api import (
    AiohttpTransport,
    CustomerServiceClient,
    WeChatApiError,
)
from assistant.channels.wechat_config import WeChatSettings
from assistant.channels.wechat_dedup import dedup_key, dedup_store
from assistant.channels.wechat_protocol import Incoming, Rejected, WeChatProtocol
from assistant.channels.wechat_text import render_bot_messages, split_for_wechat
from assistant.channels.wechat_token_cache import token_cache

log = logging.getLogger(__name__)


SUCCESS = "success"  # WeChat's "received, no reply" answer
FOLLOW_UP_DELAY_SECONDS = 0.5  # lets the passive reply reach WeChat before the pushed parts
_STATUS_TEXT = {400: "bad request", 403: "forbidden", 413: "payload too large"}


class WeChatCollector(CollectingOutputChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        return cls(WeChatSettings.from_env(credentials=credentials))

    def __init__(
        self, settings: WeChatSettings, api: CustomerServiceClient | None = None,
    ) -> None:
        self.settings = settings
        self.protocol = WeChatProtocol(settings)
        self.dedup = dedup_store(settings.dedup_ttl_seconds, settings.dedup_max_entries,
                                 settings.dedup_redis_url)
        if api is None and settings.can_push:
            api = CustomerServiceClient(
                settings.api_base, settings.app_id, settings.app_secret,
                transport=AiohttpTransport(settings.api_timeout_seconds),
                token_cache=token_cache(settings.dedup_redis_url, settings.app_id),
            )
        self.api = api
        self._background: set[asyncio.Task] = set()
        if settings.enabled:
            log.info("wechat channel on: %s", settings.describe())
            if not settings.can_push:
                log.warning("wechat: no customer-service API (WECHAT_APPID/WECHAT_SECRET): an "
                            "answer not ready within %.1fs cannot be delivered",
                            settings.reply_budget_seconds)
        else:
            log.info("wechat channel off (no token configured: WECHAT_TOKEN); it answers 503")

    # -- Sanic ------------------------------------------------------------------------------
    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("wechat_webhook", __name__)
        handle_turn = guard_turn(on_new_message)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", **self.settings.describe()})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.settings.enabled:
                return response.text("wechat channel not configured", status=503)
            try:
                echostr = self.protocol.verify_url(_args(request))
            except Rejected as exc:
                return _reject(request, exc)
            log.info("wechat: URL verified from %s", request.remote_addr or request.ip)
            return response.text(echostr)

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.enabled:
                return response.text("wechat channel not configured", status=503)
            try:
                body = await self._read_body(request)
                incoming = self.protocol.open_message(_args(request), body)
            except Rejected as exc:
                return _reject(request, exc)
            return await self._receive(incoming, handle_turn)

        @bp.listener("after_server_stop")
        async def close_api(*_: Any) -> None:
            if self.api is not None:
                await self.api.close()

        return bp

    async def _read_body(self, request: Request) -> bytes:
        """Reads at most max_body_bytes; a bigger body is refused before it is all in memory."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Rejected(413, f"declared body of {declared} bytes over the limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > limit:
                raise Rejected(413, f"body over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- messages ---------------------------------------------------------------------------
    async def _receive(
        self, incoming: Incoming, handle_turn: Callable[[UserMessage], Awaitable[Any]],
    ) -> HTTPResponse:
        key = dedup_key(incoming.fields)
        if key is not None and not self.dedup.claim(key):
            log.info("wechat: retry of %s from %s acknowledged, not answered again",
                     key, incoming.openid)
            return response.text(SUCCESS)
        try:
            return await self._answer(incoming, handle_turn)
        except Exception:
            log.exception("wechat: failed on %s from %s", key, incoming.openid)
            if key is not None:
                self.dedup.release(key)
            return response.text(SUCCESS)

    async def _answer(
        self, incoming: Incoming, handle_turn: Callable[[UserMessage], Awaitable[Any]],
    ) -> HTTPResponse:
        msg_type, openid = incoming.msg_type, incoming.openid
        if msg_type == "event":
            event = incoming.event
            if event == "subscribe":
                log.info("wechat: subscribe openid=%s", openid)
                welcome = self.settings.welcome_text or MESSAGES.wechat_welcome
                return self._passive(incoming, welcome)
            if event == "unsubscribe":
                log.info("wechat: unsubscribe openid=%s", openid)
                return response.text(SUCCESS)
            log.debug("wechat: event %s from %s ignored", event, openid)
            return response.text(SUCCESS)
        if msg_type == "text":
            text = incoming.fields.get("Content", "")
        elif msg_type == "voice":
            text = incoming.fields.get("Recognition", "").strip()
            if not text:
                return self._passive(incoming, MESSAGES.wechat_voice_not_recognised)
        else:  # image, video, shortvideo, location, link, file, miniprogrampage, ...
            log.info("wechat: %s message from %s answered with a text-only note",
                     msg_type, openid)
            return self._passive(incoming, MESSAGES.wechat_text_only)
        return await self._converse(incoming, text, handle_turn)

    async def _converse(
        self, incoming: Incoming, text: str,
        handle_turn: Callable[[UserMessage], Awaitable[Any]],
    ) -> HTTPResponse:
        openid = incoming.openid
        collector = WeChatCollector()
        msg_id = incoming.fields.get("MsgId")
        message = UserMessage(
            text, collector, openid, input_channel=self.name(),
            message_id=f"wechat-{msg_id}" if msg_id else None,
            metadata={"wechat": {"msg_type": incoming.msg_type, "msg_id": msg_id,
                                 "encrypted": incoming.encrypted}},
        )
        turn = self._spawn(handle_turn(message))
        budget = self.settings.reply_budget_seconds
        if budget > 0:  # 0: always deliver through the API (e.g. a slow deployment)
            await asyncio.wait({turn}, timeout=budget)
        if budget > 0 and turn.done():
            parts = self._parts(collector)
            if not parts:
                return response.text(SUCCESS)
            if len(parts) > 1:
                self._spawn(self._push(openid, parts[1:], delay=FOLLOW_UP_DELAY_SECONDS))
            return self._passive(incoming, parts[0])
        if self.api is None:
            log.warning("wechat: answer for %s not ready within %.1fs and no customer-service "
                        "API configured (WECHAT_APPID/WECHAT_SECRET)", openid, budget)
            return self._passive(incoming, MESSAGES.wechat_still_working)
        log.info("wechat: answer for %s goes through the API (not ready within %.1fs)",
                 openid, budget)
        self._spawn(self._deliver_later(openid, turn, collector))
        return response.text(SUCCESS)

    def _parts(self, collector: WeChatCollector) -> list[str]:
        return split_for_wechat(
            render_bot_messages(collector.messages), self.settings.max_reply_bytes,
            max_parts=5 if self.api is not None else 1,
        )

    async def _deliver_later(
        self, openid: str, turn: asyncio.Task, collector: WeChatCollector,
    ) -> None:
        await asyncio.wait({turn})
        await self._push(openid, self._parts(collector))

    async def _push(self, openid: str, parts: list[str], delay: float = 0.0) -> None:
        if self.api is None or not parts:
            return
        if delay:
            await asyncio.sleep(delay)
        for i, part in enumerate(parts, 1):
            try:
                await self.api.send_text(openid, part)
            except WeChatApiError as exc:
                # The answer stays in the tracker store; staff can see what was not delivered.
                log.error("wechat: could not deliver part %d/%d to %s: %s",
                          i, len(parts), openid, exc)
                return
        log.info("wechat: delivered %d part(s) to %s via the API", len(parts), openid)

    def _passive(self, incoming: Incoming, text: str) -> HTTPResponse:
        return response.text(self.protocol.reply_xml(incoming, text),
                             content_type="application/xml; charset=utf-8")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """A task that keeps running after the HTTP answer (and is not garbage-collected)."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _args(request: Request) -> dict[str, str | None]:
    names = ("signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature")
    return {name: request.args.get(name) for name in names}


def _reject(request: Request, exc: Rejected) -> HTTPResponse:
    log.warning("wechat: rejected %s %s from %s: %s (%d)", request.method, request.path,
                request.remote_addr or request.ip, exc.reason, exc.status)
    return response.text(_STATUS_TEXT.get(exc.status, "rejected"), status=exc.status)
