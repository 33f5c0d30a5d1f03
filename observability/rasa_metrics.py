"""Prometheus metrics of the Rasa server: turns, their latency, intents, fallbacks, offers of a
human, handoffs and negative feedback.

Why one module-owned registry per process: Rasa builds the tracker store (endpoints.yml) and
the input channels (credentials.yml) separately and hands neither a reference to the other, so
the counters the tracker store moves (`assistant.tracker_store`), the latency the channels time
(`timed_turn`) and the page the ops channel serves (`assistant.channels.ops`) can only meet in
a module. The registry is our own rather than prometheus_client's default one so that the page
holds exactly these metrics, whatever a library registers globally.

Conversation events are mapped to metrics here as plain data (no Rasa import), so the mapping
is the same code the tracker store runs, testable without Rasa. Every label takes its values
from a closed set: user-controlled input (a REST client may name any `input_channel`, "/intent"
text names any intent) must not create unbounded time series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from conversation.slots import HANDOFF_REASON, HANDOFF_REASONS, NEGATIVE_FEEDBACK

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads

# Channels users reach the assistant through; anything else is counted as "other".
KNOWN_CHANNELS = frozenset({"rest", "wechat"})
OTHER = "other"
# The trained model knows a few dozen intents; more distinct names than this are "/..." input.
MAX_INTENT_LABELS = 64

# The two-stage fallback (actions/policy_answer.py, domain.yml): first ask to rephrase (with
# "did you mean" suggestions when retrieval has some), on the second miss offer a human.
FALLBACK_STAGES: Mapping[str, str] = {
    "utter_did_not_understand": "rephrase",
    "utter_did_you_mean": "rephrase",
    "utter_offer_human_after_fallback": "offer_human",
}
# Rasa's own fallback when no rule or policy is confident about the next action (config.yml).
CORE_FALLBACK_ACTION = "action_default_fallback"
# Replies that offer a person (they set `human_offered`, so a "好的" hands over).
HUMAN_OFFERS: Mapping[str, str] = {
    "utter_offer_human_after_fallback": "after_fallback",
    "utter_not_covered": "not_covered",
    "utter_not_covered_many": "not_covered",
    "utter_not_covered_generic": "not_covered",
    "utter_complain": "negative_feedback",
    "utter_kb_unavailable": "kb_unavailable",
}
# Handoffs and feedback are counted from the slots their actions set, not from the action
# event: Rasa logs an ActionExecuted even when the action server could not run the action.

TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 15.0, 30.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)

T = TypeVar("T")


def channel_label(name: object) -> str:
    return name if isinstance(name, str) and name in KNOWN_CHANNELS else OTHER


class RasaMetrics:
    """The Rasa server's metric objects and the mapping from conversation events to them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.turns = Counter(
            "assistant_turns", "User messages that reached the dialogue (one per user event).",
            ["channel"], registry=registry)
        self.turn_latency = Histogram(
            "assistant_turn_latency_seconds",
            "Time from a user message reaching the channel to the assistant's reply.",
            ["channel"], buckets=TURN_BUCKETS, registry=registry)
        self.intents = Counter(
            "assistant_intents", "Intents NLU predicted; nlu_fallback = confidence too low.",
            ["intent"], registry=registry)
        self.intent_confidence = Histogram(
            "assistant_intent_confidence", "Confidence of the top intent NLU predicted.",
            buckets=CONFIDENCE_BUCKETS, registry=registry)
        self.fallbacks = Counter(
            "assistant_fallbacks",
            "Turns the assistant did not understand: rephrase (first miss), offer_human "
            "(second miss in a row), core (no confident next action).",
            ["stage"], registry=registry)
        self.human_offers = Counter(
            "assistant_human_offers", "Replies that offered a person, by why.",
            ["reason"], registry=registry)
        self.handoffs = Counter(
            "assistant_handoffs", "Conversations handed to staff (action_handoff_to_human).",
            ["reason"], registry=registry)
        self.negative_feedback = Counter(
            "assistant_negative_feedback",
            "Users saying an answer did not help (action_record_negative_feedback).",
            registry=registry)
        self._intent_names: set[str] = set()
        self._start_known_series()

    def _start_known_series(self) -> None:
        """Known label values start at 0, so that rates and alerts work before the first event."""
        for channel in (*sorted(KNOWN_CHANNELS), OTHER):
            self.turns.labels(channel)
            self.turn_latency.labels(channel)
        for stage in (*sorted(set(FALLBACK_STAGES.values())), "core"):
            self.fallbacks.labels(stage)
        for reason in HUMAN_OFFERS.values():
            self.human_offers.labels(reason)
        for reason in (*sorted(HANDOFF_REASONS), OTHER):
            self.handoffs.labels(reason)

    # -- conversation events (the tracker store) ------------------------------------------
    def record_event(self, event: Mapping[str, Any]) -> None:
        """Moves the counters one conversation event (Rasa's `Event.as_dict()`) stands for."""
        kind = event.get("event")
        if kind == "user":
            self._user(event)
        elif kind == "bot":
            metadata = event.get("metadata")
            utter = metadata.get("utter_action") if isinstance(metadata, Mapping) else None
            utter = utter if isinstance(utter, str) else ""
            if utter in FALLBACK_STAGES:
                self.fallbacks.labels(FALLBACK_STAGES[utter]).inc()
            if utter in HUMAN_OFFERS:
                self.human_offers.labels(HUMAN_OFFERS[utter]).inc()
        elif kind == "action" and event.get("name") == CORE_FALLBACK_ACTION:
            self.fallbacks.labels("core").inc()
        elif kind == "slot":
            name, value = event.get("name"), event.get("value")
            if name == HANDOFF_REASON and value:
                known = isinstance(value, str) and value in HANDOFF_REASONS
                self.handoffs.labels(value if known else OTHER).inc()
            elif name == NEGATIVE_FEEDBACK and value:
                self.negative_feedback.inc()

    def _user(self, event: Mapping[str, Any]) -> None:
        self.turns.labels(channel_label(event.get("input_channel"))).inc()
        intent = (event.get("parse_data") or {}).get("intent") or {}
        name = intent.get("name")
        if name:
            self.intents.labels(self._intent_label(str(name))).inc()
        confidence = intent.get("confidence")
        if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
            self.intent_confidence.observe(float(confidence))

    def _intent_label(self, name: str) -> str:
        if name not in self._intent_names and len(self._intent_names) >= MAX_INTENT_LABELS:
            return OTHER
        self._intent_names.add(name)
        return name

    # -- turn latency (the channels) ------------------------------------------------------
    @contextmanager
    def turn_timer(self, channel: object) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.turn_latency.labels(channel_label(channel)).observe(
                time.perf_counter() - started)

    def exposition(self) -> bytes:
        """The metrics page in Prometheus' text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


METRICS = RasaMetrics(CollectorRegistry())


class _Message(Protocol):
    input_channel: object


def timed_turn(
    handler: Callable[[Any], Awaitable[T]], metrics: RasaMetrics = METRICS,
) -> Callable[[Any], Awaitable[T]]:
    """Wraps a channel's message handler so each turn's latency lands in the histogram,
    labelled with the message's input channel; the channels need nothing else."""

    async def timed(message: _Message) -> T:
        with metrics.turn_timer(message.input_channel):
            return await handler(message)

    return timed
