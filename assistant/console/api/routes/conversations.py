"""Conversations read from the tracker store, the review queue, and staff taking a
conversation over, replying in it and handing it back to the assistant.

The list is paginated (`offset`, `limit`; newest first); the queue holds every open item,
however old (`TrackerReader.review_conversations`). Taking over, replying and handing back
act only on a conversation whose sender id reaches Rasa unchanged (`conversation.senders`):
one stored before that rule gets a 409 rather than an action on another conversation."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query

from assistant.console.api.deps import Db, Gateway, Staff, Tracker
from assistant.console.api.schemas import TextRequest
from assistant.console.conversations import Conversation, TrackerReader, open_items
from assistant.console.delivery import DeliveryError
from conversation.senders import visible

T = TypeVar("T")

router = APIRouter()
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
NOT_ACTIONABLE = ("这个会话的用户标识含有无法安全转发的字符，不能在工作台接管或回复；"
                  "请通过其他方式联系用户。")


@router.get("/conversations", tags=["conversations"])
def conversations(user: Staff, db: Db, tracker: Tracker,
                  offset: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
                  ) -> list[dict[str, Any]]:
    """One page of conversations, the most recently active first."""
    resolved = db.resolved_keys()
    return [c.summary(len(open_items(c, resolved)))
            for c in tracker.conversations(offset, limit)]


@router.get("/conversations/{sender_id}", tags=["conversations"])
def conversation(sender_id: str, user: Staff, db: Db, tracker: Tracker) -> dict[str, Any]:
    data = _existing(tracker, sender_id).to_json()
    resolved = db.resolved_keys()
    for item in data["items"]:
        item["resolved"] = (sender_id, item["key"]) in resolved
    return data


@router.get("/queue", tags=["conversations"])
def queue(user: Staff, db: Db, tracker: Tracker) -> list[dict[str, Any]]:
    resolved = db.resolved_keys()
    items = [{**i.__dict__, "sender_label": visible(c.sender_id), "paused": c.paused}
             for c in tracker.review_conversations(resolved) for i in open_items(c, resolved)]
    return sorted(items, key=lambda i: i["timestamp"], reverse=True)


@router.post("/queue/{sender_id}/{key}/resolve", tags=["conversations"])
def resolve(sender_id: str, key: str, user: Staff, db: Db) -> dict[str, bool]:
    db.resolve(sender_id, key, user)
    return {"ok": True}


@router.post("/conversations/{sender_id}/takeover", tags=["takeover"])
async def take_over(sender_id: str, user: Staff, tracker: Tracker,
                    gateway: Gateway) -> dict[str, bool]:
    _actionable(tracker, sender_id)
    await _delivering(gateway.take_over(sender_id, user.username))
    return {"paused": True}


@router.post("/conversations/{sender_id}/release", tags=["takeover"])
async def release(sender_id: str, user: Staff, tracker: Tracker,
                  gateway: Gateway) -> dict[str, bool]:
    _actionable(tracker, sender_id)
    await _delivering(gateway.release(sender_id, user.username))
    return {"paused": False}


@router.post("/conversations/{sender_id}/reply", tags=["takeover"])
async def reply(sender_id: str, body: TextRequest, user: Staff, tracker: Tracker,
                gateway: Gateway) -> dict[str, str]:
    conv = _actionable(tracker, sender_id)
    via = await _delivering(gateway.reply(sender_id, conv.channel, body.text, user.username))
    return {"delivered_via": via}


def _existing(tracker: TrackerReader, sender_id: str) -> Conversation:
    """Called in the route, not as a dependency, so a bad body is still a 422 before this 404."""
    conv = tracker.conversation(sender_id)
    if conv is None:
        raise HTTPException(404, "没有这个会话")
    return conv


def _actionable(tracker: TrackerReader, sender_id: str) -> Conversation:
    """An existing conversation staff may act on (409 otherwise: see the module docstring)."""
    conv = _existing(tracker, sender_id)
    if not conv.actionable:
        raise HTTPException(409, NOT_ACTIONABLE)
    return conv


async def _delivering(step: Awaitable[T]) -> T:
    """Runs a Rasa/WeChat step; its failure reaches the page as a 502 with the reason."""
    try:
        return await step
    except DeliveryError as exc:
        raise HTTPException(502, str(exc)) from exc
