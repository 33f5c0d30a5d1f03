"""Plays the evaluation sets against a running assistant over its REST channel, as an owner's
client would, and grades every reply (grading.py). Knows nothing of how the servers started."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.chat_evaluation.grading import (
    ALWAYS_FORBIDDEN,
    DocumentNames,
    Outcome,
    grade_answer,
    grade_out_of_scope,
    turn_failures,
)
from assistant.chat_evaluation.sets import Dialogue, QuestionSet

REPLY_CHARS_KEPT = 400  # of each reply, in the JSON report


def render_reply(messages: list[dict[str, Any]]) -> str:
    """What the owner sees: each message's text on its lines, buttons as [title]."""
    lines = []
    for message in messages:
        if message.get("text"):
            lines.append(message["text"])
        buttons = message.get("buttons") or []
        if buttons:
            lines.append(" ".join(f"[{b.get('title', '')}]" for b in buttons))
    return "\n".join(lines)


@dataclass
class ChatClient:
    """One REST conversation per sender; every turn's wall time is kept."""

    webhook_url: str
    client: httpx.Client
    latencies_ms: list[float] = field(default_factory=list)

    def send(self, sender: str, message: str) -> str:
        started = time.perf_counter()
        resp = self.client.post(self.webhook_url, json={"sender": sender, "message": message})
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        resp.raise_for_status()
        return render_reply(resp.json())


@dataclass
class SetResult:
    name: str
    half: str
    kind: str
    counts: Counter = field(default_factory=Counter)
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def rate(self, outcome: str) -> float:
        return self.counts[outcome] / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "half": self.half, "kind": self.kind, "total": self.total,
                "counts": dict(self.counts),
                "rates": {k: round(self.rate(k), 3) for k in self.counts},
                "items": self.items}


@dataclass
class ChatEvaluation:
    chat: ChatClient
    documents: DocumentNames
    always_forbidden: tuple[str, ...] = ALWAYS_FORBIDDEN
    run_id: str = field(default_factory=lambda: str(int(time.time())))

    def _sender(self, set_name: str, n: int) -> str:
        return f"chat-eval-{self.run_id}-{set_name}-{n}"

    def run(self, sets: Iterable[QuestionSet]) -> list[SetResult]:
        return [self.run_set(s) for s in sets]

    def run_set(self, qs: QuestionSet) -> SetResult:
        result = SetResult(qs.name, qs.half, qs.kind)
        for n, question in enumerate(qs.questions):
            reply = self.chat.send(self._sender(qs.name, n), question.question)
            outcome = grade_answer(reply, question.gold, self.documents)
            if any(re.search(p, reply) for p in self.always_forbidden):
                outcome = Outcome.WRONG  # a broken reply is never right
            result.counts[outcome.value] += 1
            result.items.append({"question": question.question, "gold": list(question.gold),
                                 "outcome": outcome.value, "reply": reply[:REPLY_CHARS_KEPT]})
        for n, probe in enumerate(qs.probes):
            reply = self.chat.send(self._sender(qs.name, n), probe)
            outcome = grade_out_of_scope(reply)
            result.counts[outcome.value] += 1
            result.items.append({"question": probe, "outcome": outcome.value,
                                 "reply": reply[:REPLY_CHARS_KEPT]})
        for n, dialogue in enumerate(qs.dialogues):
            item = self.run_dialogue(self._sender(qs.name, n), dialogue)
            result.counts["passed" if item["passed"] else "failed"] += 1
            result.items.append(item)
        return result

    def run_dialogue(self, sender: str, dialogue: Dialogue) -> dict[str, Any]:
        turns = []
        for turn in dialogue.turns:
            reply = self.chat.send(sender, turn.user)
            failures = turn_failures(reply, turn, self.always_forbidden)
            turns.append({"user": turn.user, "reply": reply[:REPLY_CHARS_KEPT],
                          "failures": failures})
        return {"name": dialogue.name, "kind": dialogue.kind,
                "passed": not any(t["failures"] for t in turns), "turns": turns}
