"""WeChat Official Account bridge: a Rasa input channel named `wechat`.

    GET  /webhooks/wechat/webhook   URL verification (signature, timestamp, nonce, echostr)
    POST /webhooks/wechat/webhook   messages and events, plaintext or safe (AES) mode
    GET  /webhooks/wechat/          health: whether the channel is configured, and how

A user is their OpenID (the Rasa sender id), so each WeChat user has one conversation; should
a REST client have opened a conversation under that OpenID first, the WeChat user is kept
under `wechat:<OpenID>` instead (`conversation.channels`), never in the REST client's. A text
(or a voice message with WeChat's recognition text) goes through the assistant like a REST
message, guarded by `guard_turn` so that a failed turn still gets a polite reply. When the
answer is ready within the passive budget (default 4 s; WeChat gives up after 5 s and retries)
it goes back as the passive XML reply; otherwise the request is answered "success" at once and
the answer follows through the customer-service message API (`wechat_api`). Without that API,
the late answer is kept (`wechat_pending`) and given with the user's next message, as the
placeholder reply says ("继续" fetches it); so is an answer the API refused. Answers longer
than one WeChat message are split (`wechat_text`): the first part as the passive reply, the rest
pushed after it. Every message is claimed once by MsgId (events: FromUserName + CreateTime),
so WeChat's retries, early or late, are acknowledged and never answered again.

Requests that are not from WeChat (wrong or missing signature, stale timestamp, a plaintext
signature already used with another body) get 403; bodies
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

from assistant.channels.http_body import BodyTooLarge, read_bounded
from assistant.channels.messages import MESSAGES
from assistant.channels.rest import REST_OWNED, KnownSenders, guard_turn, stored_user_channels
from assistant.channels.wechat_api import (
    AiohttpTransport,
    CustomerServiceClient,
    WeChatApiError,
)
from assistant.channels.wechat_config import WeChatSettings
from assistant.channels.wechat_dedup import dedup_key, dedup_store
from assistant.channels.wechat_pending import PendingAnswer, PendingStore, pending_store
from assistant.channels.wechat_protocol import Incoming, Rejected, WeChatProtocol
from assistant.channels.wechat_replay import signature_ledger
from assistant.channels.wechat_text import (
    earlier_answer,
    nbytes,
    render_bot_messages,
    split_for_wechat,
)
from assistant.channels.wechat_token_cache import token_cache
from conversation.channels import WECHAT, owner, wechat_sender_id

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
        account_id: str = "", pending: PendingStore | None = None,
    ) -> None:
        self.settings = settings
        account_id = account_id or settings.account_id
        self.protocol = WeChatProtocol(settings, account_id=account_id, replays=signature_ledger(
            settings.max_timestamp_age_seconds, settings.dedup_max_entries,
            settings.dedup_redis_url))
        self.dedup = dedup_store(settings.dedup_ttl_seconds, settings.dedup_max_entries,
                                 settings.dedup_redis_url)
        # Late answers nobody could deliver yet, until the user's next message.
        self.pending = pending if pending is not None else pending_store(
            settings.dedup_redis_url)
        self._senders = KnownSenders()  # OpenID -> the sender id of their conversation
        self._keeping: dict[str, set[asyncio.Task]] = {}  # OpenID -> answers still running
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
                            "answer not ready within %.1fs waits for the user's next message",
                            settings.reply_budget_seconds)
            if not account_id:
                log.warning("wechat: WECHAT_ACCOUNT_ID not set; replies are sent as the"
                            " ToUserName of each message")
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
            return await self._receive(incoming, handle_turn, request.app.ctx.agent.tracker_store)

        @bp.listener("after_server_stop")
        async def close_api(*_: Any) -> None:
            if self.api is not None:
                await self.api.close()

        return bp

    async def _read_body(self, request: Request) -> bytes:
        """Reads at most max_body_bytes; a bigger body is refused before it is all in memory."""
        try:
            return await read_bounded(request, self.settings.max_body_bytes)
        except BodyTooLarge as exc:
            raise Rejected(413, exc.reason) from exc

    # -- messages ---------------------------------------------------------------------------
    async def _receive(
        self, incoming: Incoming, handle_turn: Callable[[UserMessage], Awaitable[Any]],
        tracker_store: Any = None,
    ) -> HTTPResponse:
        key = dedup_key(incoming.fields)
        if key is not None and not self.dedup.claim(key):
            log.info("wechat: retry of %s from %s acknowledged, not answered again",
                     key, incoming.openid)
            return response.text(SUCCESS)
        try:
            return await self._answer(incoming, handle_turn, tracker_store)
        except Exception:
            log.exception("wechat: failed on %s from %s", key, incoming.openid)
            if key is not None:
                self.dedup.release(key)
            return response.text(SUCCESS)

    async def _answer(
        self, incoming: Incoming, handle_turn: Callable[[UserMessage], Awaitable[Any]],
        tracker_store: Any = None,
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
        return await self._converse(incoming, text, handle_turn, tracker_store)

    async def _sender_id(self, tracker_store: Any, openid: str) -> str:
        """The OpenID, unless a REST client opened a conversation under it first."""
        known = self._senders.get(openid)
        if known is not None:
            return known
        if tracker_store is None:
            return openid
        channels = await stored_user_channels(tracker_store, openid)
        if channels is None:  # unreadable: the turn itself will fail politely
            return openid
        taken = bool(channels) and owner(channels) != WECHAT
        sender = wechat_sender_id(openid, taken_by_another_channel=taken)
        if taken:
            log.warning("wechat: conversation %s was opened by another channel (%s); this "
                        "WeChat user's conversation is %s", openid, channels[0], sender)
        else:
            REST_OWNED.forget(openid)
        self._senders.remember(openid, sender)
        return sender

    async def _converse(
        self, incoming: Incoming, text: str,
        handle_turn: Callable[[UserMessage], Awaitable[Any]], tracker_store: Any = None,
    ) -> HTTPResponse:
        openid = incoming.openid
        if text.strip() == MESSAGES.wechat_continue_word and (
                self._keeping.get(openid) or self.pending.count(openid)):
            return await self._continue(incoming)
        collector = WeChatCollector()
        msg_id = incoming.fields.get("MsgId")
        message = UserMessage(
            text, collector, await self._sender_id(tracker_store, openid),
            input_channel=self.name(),
            message_id=f"wechat-{msg_id}" if msg_id else None,
            metadata={"wechat": {"msg_type": incoming.msg_type, "msg_id": msg_id,
                                 "encrypted": incoming.encrypted}},
        )
        turn = self._spawn(handle_turn(message))
        budget = self.settings.reply_budget_seconds
        if budget > 0:  # 0: always deliver through the API (e.g. a slow deployment)
            await asyncio.wait({turn}, timeout=budget)
        if budget > 0 and turn.done():
            if self.api is None:
                answer = render_bot_messages(collector.messages)
                return self._reply_with_earlier(incoming, PendingAnswer(text, answer)
                                                if answer.strip() else None)
            if self.pending.count(openid):
                self._spawn(self._push_earlier(openid, delay=FOLLOW_UP_DELAY_SECONDS))
            parts = self._parts(collector)
            if not parts:
                return response.text(SUCCESS)
            if len(parts) > 1:
                self._spawn(self._push(openid, parts[1:], delay=FOLLOW_UP_DELAY_SECONDS,
                                       question=text))
            return self._passive(incoming, parts[0])
        if self.api is None:
            log.warning("wechat: answer for %s not ready within %.1fs and no customer-service "
                        "API configured (WECHAT_APPID/WECHAT_SECRET): kept for their next "
                        "message", openid, budget)
            self._keep_when_done(openid, text, turn, collector)
            return self._reply_with_earlier(incoming, None, tail=MESSAGES.wechat_still_working)
        log.info("wechat: answer for %s goes through the API (not ready within %.1fs)",
                 openid, budget)
        self._spawn(self._deliver_later(openid, turn, collector, question=text))
        if self.pending.count(openid):
            self._spawn(self._push_earlier(openid, delay=FOLLOW_UP_DELAY_SECONDS))
        return response.text(SUCCESS)

    async def _continue(self, incoming: Incoming) -> HTTPResponse:
        """"继续" while answers wait: give them, without another turn of the assistant."""
        openid = incoming.openid
        running = self._keeping.get(openid)
        if running and not self.pending.count(openid):
            await asyncio.wait(set(running), timeout=self.settings.reply_budget_seconds or 4.0)
        if not self.pending.count(openid):
            return self._passive(incoming, MESSAGES.wechat_still_working)
        return self._reply_with_earlier(incoming, None)

    def _reply_with_earlier(self, incoming: Incoming, current: PendingAnswer | None,
                            tail: str | None = None) -> HTTPResponse:
        """One passive reply: the answers that waited (oldest first, as many as fit), then
        the current answer if it fits too (else it waits in turn), then `tail` or a note of
        how many still wait."""
        openid = incoming.openid
        max_bytes = self.settings.max_reply_bytes
        if current is not None and not self.pending.count(openid):
            parts = split_for_wechat(current.text, max_bytes, max_parts=1)
            return self._passive(incoming, parts[0]) if parts else response.text(SUCCESS)
        note = MESSAGES.wechat_more_waiting.format(count=99)
        room = max_bytes - max(nbytes(tail or ""), nbytes(note)) - 4
        waiting: list[PendingAnswer] = []
        while (answer := self.pending.pop(openid)) is not None:
            if waiting and nbytes(self._earlier([*waiting, answer], room)) > room:
                self.pending.push_back(openid, answer)
                break
            waiting.append(answer)
        blocks = [self._earlier(waiting, room)] if waiting else []
        if current is not None:
            now = split_for_wechat(current.text, room, max_parts=1)[0]
            if not blocks or nbytes("\n\n".join([*blocks, now])) <= room:
                blocks.append(now)
            else:
                self.pending.add(openid, current)
        still = self.pending.count(openid) + len(self._keeping.get(openid) or ())
        if tail:
            blocks.append(tail)
        elif still:
            blocks.append(MESSAGES.wechat_more_waiting.format(count=still))
        if waiting:
            log.info("wechat: %d waiting answer(s) given to %s with their message (%d still "
                     "waiting)", len(waiting), openid, still)
        return self._passive(incoming, "\n\n".join(blocks)) if blocks else response.text(
            SUCCESS)

    @staticmethod
    def _earlier(answers: list[PendingAnswer], room: int) -> str:
        """Answers that waited, each with its question and cut to `room` bytes."""
        return "\n\n".join(split_for_wechat(earlier_answer(a.question, a.text), room,
                                              max_parts=1)[0] for a in answers)

    def _keep_when_done(self, openid: str, question: str, turn: asyncio.Task,
                        collector: WeChatCollector) -> None:
        async def keep() -> None:
            await asyncio.wait({turn})
            answer = render_bot_messages(collector.messages)
            if answer.strip():
                self.pending.add(openid, PendingAnswer(question, answer))
                log.info("wechat: late answer for %s kept for their next message", openid)

        task = self._spawn(keep())
        self._keeping.setdefault(openid, set()).add(task)

        def done(t: asyncio.Task) -> None:
            running = self._keeping.get(openid)
            if running is not None:
                running.discard(t)
                if not running:
                    del self._keeping[openid]

        task.add_done_callback(done)

    def _parts(self, collector: WeChatCollector) -> list[str]:
        return split_for_wechat(
            render_bot_messages(collector.messages), self.settings.max_reply_bytes,
            max_parts=5 if self.api is not None else 1,
        )

    async def _deliver_later(
        self, openid: str, turn: asyncio.Task, collector: WeChatCollector, question: str = "",
    ) -> None:
        await asyncio.wait({turn})
        await self._push(openid, self._parts(collector), question=question)

    async def _push(self, openid: str, parts: list[str], delay: float = 0.0,
                    question: str = "") -> bool:
        """Sends `parts` through the API; what WeChat refuses waits for the next message."""
        if self.api is None or not parts:
            return True
        if delay:
            await asyncio.sleep(delay)
        for i, part in enumerate(parts, 1):
            try:
                await self.api.send_text(openid, part)
            except WeChatApiError as exc:
                log.error("wechat: could not deliver part %d/%d to %s: %s; it waits for their "
                          "next message", i, len(parts), openid, exc)
                self.pending.add(openid, PendingAnswer(question, "\n".join(parts[i - 1:])))
                return False
        log.info("wechat: delivered %d part(s) to %s via the API", len(parts), openid)
        return True

    async def _push_earlier(self, openid: str, delay: float = 0.0) -> None:
        """Answers that waited (the API refused them before), through the API again."""
        if delay:
            await asyncio.sleep(delay)
        while self.api is not None and (answer := self.pending.pop(openid)) is not None:
            parts = split_for_wechat(earlier_answer(answer.question, answer.text),
                                     self.settings.max_reply_bytes)
            for i, part in enumerate(parts):
                try:
                    await self.api.send_text(openid, part)
                except WeChatApiError as exc:
                    log.error("wechat: waiting answer for %s still not delivered: %s",
                              openid, exc)
                    self.pending.push_back(openid, answer if i == 0 else PendingAnswer(
                        answer.question, "\n".join(parts[i:]), answer.at))
                    return

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
