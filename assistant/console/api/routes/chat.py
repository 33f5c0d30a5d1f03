"""Staff chatting with the assistant as a user would (sender `console-<username>`, or
`console-h<digest>` for a user name that is no valid sender id: `conversation.senders`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException

from assistant.console.api.deps import Gateway, Staff
from assistant.console.api.schemas import TextRequest
from conversation.senders import sender_id_for

log = logging.getLogger(__name__)

router = APIRouter(tags=["chat"])


@router.post("/chat")
async def chat(body: TextRequest, user: Staff, gateway: Gateway) -> dict[str, Any]:
    sender = sender_id_for("console-", user.username)
    try:
        replies = await gateway.chat(sender, body.text)
    except httpx.HTTPError as exc:
        log.error("console: chat via Rasa failed: %s", exc)
        raise HTTPException(502, "助手暂时连不上，请稍后再试") from exc
    return {"sender_id": sender, "replies": replies}
