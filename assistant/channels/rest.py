"""The REST channel, made to always answer, and to answer only its own clients.

Rasa's own RestInput returns an empty list when an action fails (for example when the action
server is down): the user sees nothing and does not know whether to wait. This channel keeps
RestInput's protocol (`POST /webhooks/rest/webhook` with `{"sender": ..., "message": ...}`,
a JSON list of bot messages back) and adds:

- a body that is not such an object (an array, a number as message, no sender, a lone
  surrogate, ...) gets 400 with the reason in Chinese (`rest_protocol`), never a traceback, an
  empty list or a shared `default` conversation; a body over `MAX_REST_BODY_BYTES` or a
  `metadata` over `MAX_METADATA_BYTES` (`conversation.limits`) gets 413, and nothing is stored;
- a text that Rasa would read as a command (`/restart`, `/inform{...}`) reaches it as text
  (`user_text`), on every channel that uses `guard_turn`;
- an empty message is answered without running the pipeline; a turn that produced no reply
  gets a polite "try again shortly" (the cause stays in the server log for staff), or, when
  staff have taken the conversation over (Rasa's paused state), word that a person will answer
  here;
- a sender id that belongs to a WeChat user's conversation, or a client naming the WeChat
  channel as its input channel, is refused (403; `conversation.channels`);
- every reply carries the conversation's outbox token (`X-Outbox-Token`), and
  `GET /webhooks/rest/outbox?sender=…&after=…` with that token in the same header returns what
  staff wrote to the user from the console, read from the conversation itself so that nothing
  is kept twice;
- cross-origin browser access only from `REST_CORS_ORIGINS`, never with credentials.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.channels.http_body import BodyTooLarge, read_bounded
from assistant.channels.messages import MESSAGES
from assistant.channels.rate_limit import refusal
from assistant.channels.rest_protocol import (
    OUTBOX_TOKEN_HEADER,
    BadRequest,
    CorsPolicy,
    OutboxTokens,
    parse_webhook_body,
)
from assistant.channels.staff_replies import HUMAN_HAS_TAKEN_OVER, STAFF_METADATA_KEY
from assistant.channels.user_text import neutralise
from conversation.channels import WECHAT, owner
from conversation.limits import MAX_REST_BODY_BYTES
from observability.rasa_metrics import timed_turn

log = logging.getLogger(__name__)

EMPTY_MESSAGE_REPLY = MESSAGES.empty_message
NO_REPLY_FALLBACK = MESSAGES.no_reply
MAX_KNOWN_SENDERS = 50_000


async def _conversation_is_paused(sender_id: str) -> bool:
    """Paused = taken over by staff in the console; Rasa then records but does not answer."""
    try:
        agent = Sanic.get_app().ctx.agent
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:
        log.exception("sender=%s could not read the conversation state", sender_id)
        return False
    return bool(tracker and tracker.is_paused())


async def stored_user_channels(tracker_store: Any, sender_id: str) -> list[str | None] | None:
    """The input channel of every user message stored under `sender_id` (all sessions), oldest
    first; None when the tracker store cannot be read (the cause is logged)."""
    try:
        tracker = await tracker_store.retrieve_full_tracker(sender_id)
    except Exception:
        log.exception("sender=%s could not read the conversation", sender_id)
        return None
    if tracker is None:
        return []
    return [e.input_channel for e in tracker.events if isinstance(e, UserUttered)]


class KnownSenders:
    """Sender ids whose conversation is known to belong to one channel, so that the tracker
    is read once per conversation and process (bounded; the oldest forgotten first)."""

    def __init__(self, max_entries: int = MAX_KNOWN_SENDERS) -> None:
        self.max_entries = max_entries
        self._ids: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        return self._ids.get(key)

    def remember(self, key: str, value: str) -> None:
        self._ids[key] = value
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_entries:
            self._ids.popitem(last=False)

    def forget(self, key: str) -> None:
        self._ids.pop(key, None)


# Conversations REST clients have written in and no WeChat user has: the WeChat channel
# forgets an id here when a WeChat user writes under it (a race on a brand-new conversation).
REST_OWNED = KnownSenders()


def guard_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    is_paused: Callable[[str], Awaitable[bool]] = _conversation_is_paused,
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wraps Rasa's message handler so that every user turn gets some reply (and is timed)."""

    async def handle(message: UserMessage) -> None:
        output = message.output_channel
        text = (message.text or "").strip()
        if not text:
            await output.send_text_message(message.sender_id, EMPTY_MESSAGE_REPLY)
            return
        refused = refusal(message.sender_id, text)  # too long, or over the sender's rate
        if refused is not None:
            await output.send_text_message(message.sender_id, refused)
            return
        message.text = neutralise(text)  # text, never a command such as /restart
        before = len(output.messages) if isinstance(output, CollectingOutputChannel) else None
        try:
            await on_new_message(message)
        except Exception:
            log.exception("sender=%s turn failed", message.sender_id)
        if before is not None and len(output.messages) == before:
            if await is_paused(message.sender_id):
                await output.send_text_message(message.sender_id, HUMAN_HAS_TAKEN_OVER)
                return
            log.error("sender=%s turn produced no reply (action server down?)", message.sender_id)
            await output.send_text_message(message.sender_id, NO_REPLY_FALLBACK)

    return timed_turn(handle)


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) over MAX_REST_BODY_BYTES before it is all in memory."""
    try:
        return await read_bounded(request, MAX_REST_BODY_BYTES)
    except BodyTooLarge as exc:
        raise BadRequest(413, "body_too_large", MESSAGES.rest_body_too_large) from exc


def _refused(exc: BadRequest, headers: dict[str, str] | None = None) -> HTTPResponse:
    return response.json(exc.body(), status=exc.status, headers=headers)


class ResilientRestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ResilientRestInput:
        return cls()

    def __init__(self, tokens: OutboxTokens | None = None,
                 cors: CorsPolicy | None = None) -> None:
        self.tokens = tokens or OutboxTokens.from_env()
        self.cors = cors or CorsPolicy.from_env()
        log.info("rest channel: cross-origin access from %s",
                 ", ".join(sorted(self.cors.origins)) or "no origin (REST_CORS_ORIGINS empty)")

    async def _owned_by_another_channel(self, tracker_store: Any, sender: str) -> bool:
        if REST_OWNED.get(sender):
            return False
        channels = await stored_user_channels(tracker_store, sender)
        if channels is None:  # unreadable: the turn itself will fail politely
            return False
        if owner(channels) == WECHAT:
            return True
        if channels:
            REST_OWNED.remember(sender, "rest")
        return False

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        handle_turn = guard_turn(on_new_message)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                message = parse_webhook_body(await _read_body(request))
            except BadRequest as exc:
                log.info("rest: refused a message from %s: %s", request.remote_addr or request.ip,
                         exc.code)
                return _refused(exc)
            store = request.app.ctx.agent.tracker_store
            if await self._owned_by_another_channel(store, message.sender):
                log.warning("rest: sender=%s belongs to a WeChat conversation; refused (from %s)",
                            message.sender, request.remote_addr or request.ip)
                return _refused(BadRequest(403, "sender_taken", MESSAGES.rest_sender_taken))
            collector = CollectingOutputChannel()
            try:
                await handle_turn(UserMessage(
                    message.text, collector, message.sender,
                    input_channel=message.input_channel, metadata=message.metadata))
            except Exception:  # guard_turn answers failed turns; this is a last resort
                log.exception("sender=%s turn failed", message.sender)
            if not collector.messages:
                collector.messages.append({"recipient_id": message.sender,
                                           "text": NO_REPLY_FALLBACK})
            return response.json(
                collector.messages,
                headers={OUTBOX_TOKEN_HEADER: self.tokens.token(message.sender)})

        @bp.route("/outbox", methods=["GET"])
        async def outbox(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            try:
                after = float(request.args.get("after", 0))
            except ValueError:
                return _refused(BadRequest(400, "after_invalid",
                                           MESSAGES.rest_outbox_after_invalid))
            if not sender:
                return _refused(BadRequest(400, "sender_missing",
                                           MESSAGES.rest_outbox_sender_missing))
            token = request.headers.get(OUTBOX_TOKEN_HEADER)
            if not token:
                return _refused(BadRequest(401, "token_missing",
                                           MESSAGES.rest_outbox_token_missing))
            if not self.tokens.valid(sender, token):
                log.warning("rest: outbox of sender=%s asked with a wrong token (from %s)",
                            sender, request.remote_addr or request.ip)
                return _refused(BadRequest(403, "token_wrong", MESSAGES.rest_outbox_token_wrong))
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
            events = tracker.events if tracker else []
            if owner(e.input_channel for e in events if isinstance(e, UserUttered)) == WECHAT:
                # A REST client that wrote first under an OpenID keeps its token, but what
                # staff write to the WeChat user is never theirs to read.
                log.warning("rest: outbox of WeChat conversation %s refused", sender)
                return _refused(BadRequest(403, "token_wrong", MESSAGES.rest_outbox_token_wrong))
            return response.json([
                {"text": e.text, "timestamp": e.timestamp,
                 "staff": (e.metadata or {}).get(STAFF_METADATA_KEY)}
                for e in events
                if isinstance(e, BotUttered) and e.timestamp > after
                and (e.metadata or {}).get(STAFF_METADATA_KEY)
            ])

        @bp.route("/webhook", methods=["OPTIONS"], name="webhook_preflight")
        @bp.route("/outbox", methods=["OPTIONS"], name="outbox_preflight")
        async def preflight(_: Request) -> HTTPResponse:
            return response.empty()

        @bp.middleware("response")
        async def cors_headers(request: Request, resp: HTTPResponse) -> None:
            """Rasa's `--cors` applies one policy to the whole server; the REST channel's routes
            get their own: sanic-cors' headers removed, this policy's set."""
            if resp is None:
                return
            for name in list(resp.headers.keys()):
                if name.lower().startswith("access-control-"):
                    del resp.headers[name]
            preflight_request = (request.method == "OPTIONS"
                                 and "access-control-request-method" in request.headers)
            resp.headers.update(self.cors.headers(request.headers.get("origin"),
                                                  preflight_request))
            vary = resp.headers.get("vary", "")
            if "origin" not in vary.lower():
                resp.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"

        return bp
