"""The REST channel, made to always answer.

Rasa's own RestInput returns an empty list when an action fails (for example when the action
server is down): the user sees nothing and does not know whether to wait. This channel keeps
RestInput's protocol (`POST /webhooks/rest/webhook`) and adds: an empty message is answered
without running the pipeline; a turn that produced no reply gets a polite "try again
shortly" (the cause stays in the server log for staff), or, when staff have taken the
conversation over (Rasa's paused state), word that a person will answer here; and
`GET /webhooks/rest/outbox?sender=…&after=…` returns what staff wrote to the user from the
console, read from the conversation itself so that nothing is kept twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.channels.messages import MESSAGES
from assistant.channels.staff_replies import HUMAN_HAS_TAKEN_OVER, STAFF_METADATA_KEY
from conversation.limits import MAX_MESSAGE_CHARS
from observability.rasa_metrics import timed_turn

log = logging.getLogger(__name__)

EMPTY_MESSAGE_REPLY = MESSAGES.empty_message
NO_REPLY_FALLBACK = MESSAGES.no_reply


async def _conversation_is_paused(sender_id: str) -> bool:
    """Paused = taken over by staff in the console; Rasa then records but does not answer."""
    try:
        agent = Sanic.get_app().ctx.agent
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:
        log.exception("sender=%s could not read the conversation state", sender_id)
        return False
    return bool(tracker and tracker.is_paused())


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
        if len(text) > MAX_MESSAGE_CHARS:
            log.warning("sender=%s message of %d chars truncated", message.sender_id, len(text))
            message.text = text[:MAX_MESSAGE_CHARS]
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


class ResilientRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = super().blueprint(guard_turn(on_new_message))

        @bp.route("/outbox", methods=["GET"])
        async def outbox(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            try:
                after = float(request.args.get("after", 0))
            except ValueError:
                return response.json({"error": "after must be a UNIX timestamp"}, status=400)
            if not sender:
                return response.json({"error": "sender is required"}, status=400)
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
            events = tracker.events if tracker else []
            return response.json([
                {"text": e.text, "timestamp": e.timestamp,
                 "staff": (e.metadata or {}).get(STAFF_METADATA_KEY)}
                for e in events
                if isinstance(e, BotUttered) and e.timestamp > after
                and (e.metadata or {}).get(STAFF_METADATA_KEY)
            ])

        return bp
