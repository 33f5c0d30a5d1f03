"""The REST channel, made to always answer.

Rasa's own RestInput returns an empty list when an action fails (for example when the action
server is down): the user sees nothing and does not know whether to wait. This channel keeps
RestInput's protocol (`POST /webhooks/rest/webhook`) and adds two things: an empty message is
answered without running the pipeline, and a turn that produced no reply gets a polite
"try again shortly"; the cause stays in the server log for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

log = logging.getLogger(__name__)

EMPTY_MESSAGE_REPLY = "您好，请直接输入您想咨询的政策问题，比如“审批有没有绿色通道？”"
NO_REPLY_FALLBACK = "抱歉，系统暂时有点忙，没能处理您的消息，请稍后再试。需要人工请说“转人工”。"
MAX_MESSAGE_CHARS = 2000


def guard_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wraps Rasa's message handler so that every user turn gets some reply."""

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
            log.error("sender=%s turn produced no reply (action server down?)", message.sender_id)
            await output.send_text_message(message.sender_id, NO_REPLY_FALLBACK)

    return handle


class ResilientRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        return super().blueprint(guard_turn(on_new_message))
