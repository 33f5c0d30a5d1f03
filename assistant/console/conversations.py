"""Conversations as staff review them, read from Rasa's SQL tracker store.

The tracker store is the single record of what users said and what the assistant did: the
intent and confidence of each message, the bot's replies, and the slots the actions set
(`last_citations`, `last_retrieval`, `needs_human`, `negative_feedback`, `fallback_count`).
The console reads it (read-only) and never keeps a second copy; the review queue is derived
from it, minus the items staff marked done (kept in the console's own database).

The queue is found by asking the store for the events that make review items (`REVIEW_EVENTS`)
wherever they are, never by reading the most recent conversations: a handoff waits until a
person deals with it, however much traffic arrives meanwhile. The conversation list is read a
page at a time, newest first.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conversation.channels import owner
from conversation.senders import is_valid_sender_id, visible
from conversation.slots import (
    HANDOFF_REASON,
    LAST_CITATIONS,
    LAST_RETRIEVAL,
    NEEDS_HUMAN,
    NEGATIVE_FEEDBACK,
)

# Rows for a query written with "?" placeholders, [] while Rasa has not created its table.
RowSource = Callable[[str, tuple], list[tuple]]

FALLBACK_INTENT = "nlu_fallback"
QUEUE_KINDS = ("handoff", "fallback", "feedback")
# Rows of Rasa's `events` table that may make a review item (`build_conversation` decides):
# Rasa stores the intent of a user event in `intent_name` and the name of a slot in
# `action_name`, and the event itself as `json.dumps` of its dict in `data`. Written with "?"
# placeholders (REVIEW_ARGS), so that no literal "%" reaches psycopg.
REVIEW_EVENTS = (
    "(type_name = 'user' AND intent_name = ?)"
    " OR (type_name = 'slot' AND action_name = ? AND data LIKE ?)"
    " OR (type_name = 'slot' AND action_name = ? AND data NOT LIKE ?)"
    " OR (type_name = 'slot' AND action_name = ? AND data LIKE ?)"
)
REVIEW_ARGS = (FALLBACK_INTENT, NEEDS_HUMAN, '%"value": true%',
               NEGATIVE_FEEDBACK, '%"value": null%', LAST_RETRIEVAL, "%not_understood%")
LOAD_CHUNK = 500  # sender ids per IN (...) query, well under every database's limit


@dataclass
class Turn:
    event_id: int
    timestamp: float
    text: str
    intent: str | None
    confidence: float | None
    channel: str | None
    replies: list[dict[str, Any]] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    retrieval: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass
class QueueItem:
    sender_id: str
    key: str  # stable id: "<kind>:<event id>"
    kind: str
    timestamp: float
    question: str
    detail: str
    channel: str | None


@dataclass
class Conversation:
    sender_id: str
    channel: str | None = None
    paused: bool = False  # taken over by staff: the assistant records but does not answer
    turns: list[Turn] = field(default_factory=list)
    items: list[QueueItem] = field(default_factory=list)
    staff_replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_timestamp(self) -> float:
        return self.turns[-1].timestamp if self.turns else 0.0

    @property
    def actionable(self) -> bool:
        """Whether staff can take it over and reply: only under a valid sender id, which
        reaches Rasa unchanged (`conversation.senders`)."""
        return is_valid_sender_id(self.sender_id)

    def _identity(self) -> dict[str, Any]:
        return {"sender_id": self.sender_id, "sender_label": visible(self.sender_id),
                "actionable": self.actionable, "channel": self.channel, "paused": self.paused}

    def to_json(self) -> dict[str, Any]:
        return {**self._identity(), "turns": [asdict(t) for t in self.turns],
                "items": [asdict(i) for i in self.items]}

    def summary(self, open_items: int) -> dict[str, Any]:
        last = self.turns[-1] if self.turns else None
        return {**self._identity(), "turns": len(self.turns),
                "last_timestamp": self.last_timestamp,
                "last_text": last.text if last else "", "open_items": open_items}


def _item(conv: Conversation, turn: Turn, event_id: int, kind: str, detail: str) -> None:
    conv.items.append(QueueItem(conv.sender_id, f"{kind}:{event_id}", kind, turn.timestamp,
                                turn.text, detail, conv.channel))
    turn.flags.append(kind)


def build_conversation(sender_id: str, rows: list[tuple[int, str, str]]) -> Conversation:
    """Rows are (event id, type name, JSON data) in store order."""
    conv = Conversation(sender_id)
    turn: Turn | None = None
    channels: list[str | None] = []
    for event_id, type_name, raw in rows:
        data = json.loads(raw)
        if type_name == "user":
            intent = (data.get("parse_data") or {}).get("intent") or {}
            channels.append(data.get("input_channel"))
            # The channel staff replies go out on: WeChat once a WeChat user wrote here.
            conv.channel = owner(channels)
            turn = Turn(event_id, data.get("timestamp", 0.0), data.get("text") or "",
                        intent.get("name"), intent.get("confidence"), data.get("input_channel"))
            conv.turns.append(turn)
            if turn.intent == FALLBACK_INTENT:
                _item(conv, turn, event_id, "fallback", "没听懂（NLU 置信度低）")
        elif type_name == "pause":
            conv.paused = True
        elif type_name == "resume":
            conv.paused = False
        elif turn is None:
            continue
        elif type_name == "bot":
            staff = (data.get("metadata") or {}).get("staff")
            turn.replies.append({"text": data.get("text") or "", "staff": staff,
                                 "timestamp": data.get("timestamp", 0.0)})
        elif type_name == "slot":
            _slot(conv, turn, event_id, data.get("name"), data.get("value"))
    return conv


def _slot(conv: Conversation, turn: Turn, event_id: int, name: str | None, value: Any) -> None:
    if name == LAST_CITATIONS and value:
        turn.citations = list(value)
    elif name == LAST_RETRIEVAL and value:
        turn.retrieval = list(value)
        if any(r.get("outcome") == "not_understood" for r in value) \
                and "fallback" not in turn.flags:
            _item(conv, turn, event_id, "fallback", "检索未找到可靠条款，已请用户换个说法")
    elif name == NEEDS_HUMAN and value is True:
        _item(conv, turn, event_id, "handoff", "用户需要人工")
    elif name == HANDOFF_REASON and value and turn.flags and turn.flags[-1] == "handoff":
        conv.items[-1].detail = {"user_request": "用户主动要求人工",
                                 "accepted_offer": "用户接受了转人工的提议"}.get(value, value)
    elif name == NEGATIVE_FEEDBACK and value:
        if isinstance(value, dict):
            comment, question = value.get("comment", ""), value.get("question", "")
            detail = f"用户说没帮上：“{comment}”；原问题：{question}"
        else:
            detail = f"用户说没帮上：{value}"
        _item(conv, turn, event_id, "feedback", detail)


def sqlite_rows(path: Path) -> RowSource:
    """The embedded profile's tracker store, opened read-only for each query."""

    def rows(sql: str, args: tuple) -> list[tuple]:
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # Rasa has not created its table yet
            return []
        finally:
            db.close()

    return rows


def postgres_rows(dsn: str) -> RowSource:
    """The scaled profile's tracker store; psycopg is imported here so that the embedded
    profile does not need it. Each query opens a short read-only connection: the console is
    low-traffic and must not hold connections the Rasa instances need."""
    import psycopg
    from psycopg import errors

    def rows(sql: str, args: tuple) -> list[tuple]:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.read_only = True
            try:
                return conn.execute(sql.replace("?", "%s"), args).fetchall()
            except errors.UndefinedTable:
                return []

    return rows


class TrackerReader:
    """Read-only access to the SQL tracker store that Rasa writes (SQLite or PostgreSQL:
    Rasa gives both the same `events` table)."""

    def __init__(self, rows: RowSource) -> None:
        self._rows = rows

    @classmethod
    def sqlite(cls, path: Path) -> TrackerReader:
        return cls(sqlite_rows(path))

    @classmethod
    def postgres(cls, dsn: str) -> TrackerReader:
        return cls(postgres_rows(dsn))

    def sender_ids(self, offset: int = 0, limit: int | None = None) -> list[str]:
        """Sender ids, the most recently active first; a page of them with `limit`."""
        page = "" if limit is None else " LIMIT ? OFFSET ?"
        args = () if limit is None else (limit, offset)
        rows = self._rows("SELECT sender_id, MAX(id) AS last FROM events"
                          f" GROUP BY sender_id ORDER BY last DESC{page}", args)
        return [r[0] for r in rows]

    def conversation(self, sender_id: str) -> Conversation | None:
        rows = self._rows("SELECT id, type_name, data FROM events WHERE sender_id = ?"
                          " ORDER BY id", (sender_id,))
        return build_conversation(sender_id, rows) if rows else None

    def conversations(self, offset: int = 0, limit: int = 50) -> list[Conversation]:
        """One page of conversations, the most recently active first."""
        return self._load(self.sender_ids(offset, limit))

    def review_conversations(self, resolved: set[tuple[str, str]]) -> list[Conversation]:
        """Every conversation that may hold a review item staff have not resolved, however
        long ago it was last active: found by its events (`REVIEW_EVENTS`), not by recency.
        A conversation whose every such event is a resolved item is not read."""
        done: dict[str, set[int]] = {}
        for sender, key in resolved:
            _, _, event_id = key.rpartition(":")
            if event_id.isdigit():
                done.setdefault(sender, set()).add(int(event_id))
        senders: dict[str, None] = {}
        for sender, event_id in self._rows(
                f"SELECT sender_id, id FROM events WHERE {REVIEW_EVENTS} ORDER BY id DESC",
                REVIEW_ARGS):
            if event_id not in done.get(sender, ()):
                senders.setdefault(sender, None)
        return self._load(list(senders))

    def _load(self, senders: list[str]) -> list[Conversation]:
        """The conversations of `senders`, in that order, a chunk of senders per query."""
        rows: dict[str, list[tuple[int, str, str]]] = {s: [] for s in senders}
        for start in range(0, len(senders), LOAD_CHUNK):
            chunk = senders[start:start + LOAD_CHUNK]
            marks = ",".join("?" * len(chunk))
            for sender, event_id, type_name, data in self._rows(
                    "SELECT sender_id, id, type_name, data FROM events"
                    f" WHERE sender_id IN ({marks}) ORDER BY id", tuple(chunk)):
                rows[sender].append((event_id, type_name, data))
        return [build_conversation(s, rows[s]) for s in senders if rows[s]]


def open_items(conv: Conversation, resolved: set[tuple[str, str]]) -> list[QueueItem]:
    return [i for i in conv.items if (conv.sender_id, i.key) not in resolved]
