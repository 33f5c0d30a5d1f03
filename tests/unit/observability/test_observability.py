"""The metric mappings and readiness rules on their own: what the servers' pages are made of.

The end-to-end suite (tests/e2e/test_ops.py) checks the same metrics through the real servers;
this covers the inputs a real conversation rarely produces (hostile labels, broken events).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import KnowledgeBaseUnavailable
from observability.action_metrics import ActionMetrics
from observability.checks import DEGRADED, FAILED, OK, Check, readiness, run_check
from observability.rasa_metrics import MAX_INTENT_LABELS, RasaMetrics, timed_turn


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def user(channel: Any = "rest", intent: Any = "greet", confidence: Any = 0.9) -> dict:
    return {"event": "user", "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def bot(utter: str) -> dict:
    return {"event": "bot", "text": "…", "metadata": {"utter_action": utter}}


@pytest.mark.parametrize(("event", "name", "labels"), [
    (user(), "assistant_turns_total", {"channel": "rest"}),
    (user("wechat"), "assistant_turns_total", {"channel": "wechat"}),
    (user(intent="nlu_fallback"), "assistant_intents_total", {"intent": "nlu_fallback"}),
    (bot("utter_did_not_understand"), "assistant_fallbacks_total", {"stage": "rephrase"}),
    (bot("utter_did_you_mean"), "assistant_fallbacks_total", {"stage": "rephrase"}),
    (bot("utter_offer_human_after_fallback"), "assistant_fallbacks_total",
     {"stage": "offer_human"}),
    (bot("utter_offer_human_after_fallback"), "assistant_human_offers_total",
     {"reason": "after_fallback"}),
    (bot("utter_not_covered"), "assistant_human_offers_total", {"reason": "not_covered"}),
    ({"event": "action", "name": "action_default_fallback"}, "assistant_fallbacks_total",
     {"stage": "core"}),
    ({"event": "slot", "name": "handoff_reason", "value": "user_request"},
     "assistant_handoffs_total", {"reason": "user_request"}),
    ({"event": "slot", "name": "negative_feedback", "value": {"question": "q"}},
     "assistant_negative_feedback_total", {}),
])
def test_each_event_moves_its_counter_by_one(event: dict, name: str, labels: dict) -> None:
    metrics = RasaMetrics(CollectorRegistry())
    metrics.record_event(event)
    assert sample(metrics.registry, name, **labels) == 1


def test_events_that_are_no_fallback_or_handoff_move_nothing_but_turns() -> None:
    metrics = RasaMetrics(CollectorRegistry())
    for event in (bot("utter_policy_answer"), {"event": "action", "name": "action_handoff_to_human"},
                  {"event": "slot", "name": "handoff_reason", "value": None},
                  {"event": "slot", "name": "needs_human", "value": True}):
        metrics.record_event(event)
    text = metrics.exposition().decode()
    moved = [line for line in text.splitlines()
             if line.startswith("assistant_") and "_created" not in line
             and not line.endswith(" 0.0")]
    assert moved == []


def test_labels_stay_in_a_closed_set_whatever_the_client_sends() -> None:
    metrics = RasaMetrics(CollectorRegistry())
    for channel in ("made-up", ["a", "list"], None, 7):
        metrics.record_event(user(channel))
    for i in range(MAX_INTENT_LABELS + 10):
        metrics.record_event(user(intent=f"intent_{i}"))
    metrics.record_event({"event": "slot", "name": "handoff_reason", "value": ["odd"]})
    metrics.record_event({"event": "bot", "metadata": ["not", "a", "dict"]})
    metrics.record_event(user(intent=None, confidence=True))
    reg = metrics.registry
    assert sample(reg, "assistant_turns_total", channel="other") == 4
    # "greet" took one of the places, so 11 of the 74 made-up names share "other".
    assert sample(reg, "assistant_intents_total", intent="other") == 11
    assert sample(reg, "assistant_handoffs_total", reason="other") == 1
    intents = {s.labels["intent"] for f in reg.collect() if f.name == "assistant_intents"
               for s in f.samples if s.name.endswith("_total")}
    assert len(intents) == MAX_INTENT_LABELS + 1


def test_a_turn_is_timed_even_when_it_fails() -> None:
    metrics = RasaMetrics(CollectorRegistry())

    async def failing(_: Any) -> None:
        raise RuntimeError("boom")

    message = SimpleNamespace(input_channel="wechat")
    with pytest.raises(RuntimeError):
        asyncio.run(timed_turn(failing, metrics)(message))
    assert sample(metrics.registry, "assistant_turn_latency_seconds_count", channel="wechat") == 1


def test_retrieval_outcomes_scores_and_the_served_generation(built_kb: KnowledgeBase) -> None:
    metrics = ActionMetrics(CollectorRegistry())
    search = metrics.observed(built_kb.retriever.search)
    assert search("审批有没有绿色通道？").answerable
    assert not search("今天天气怎么样").answerable

    def no_index(_: str) -> Any:
        raise KnowledgeBaseUnavailable("no index")

    with pytest.raises(KnowledgeBaseUnavailable):
        metrics.observed(no_index)("问题")
    reg = metrics.registry
    for outcome in ("answerable", "unanswerable", "unavailable"):
        assert sample(reg, "assistant_retrievals_total", outcome=outcome) == 1
    fusion = built_kb.retriever.health()["fusion"]
    assert sample(reg, "assistant_retrieval_top_score_count", fusion=fusion) == 2
    assert sample(reg, "assistant_retrieval_latency_seconds_count") == 2

    metrics.refresh_index(None)
    assert sample(reg, "assistant_index_generation_info", generation="") == 1
    metrics.refresh_index(built_kb.retriever)
    generation = built_kb.retriever.generation
    assert sample(reg, "assistant_index_generation_info", generation=generation) == 1
    assert sample(reg, "assistant_index_generation_info", generation="") == 0
    assert sample(reg, "assistant_index_generation_loaded_timestamp_seconds") > 0


def test_action_runs_errors_and_unknown_action_names() -> None:
    metrics = ActionMetrics(CollectorRegistry())
    known = {"action_a"}
    with metrics.action_run("action_a", known):
        pass
    with pytest.raises(ValueError), metrics.action_run("action_a", known):
        raise ValueError("boom")
    with metrics.action_run("anything a caller names", known):
        pass
    reg = metrics.registry
    assert sample(reg, "assistant_action_runs_total", action="action_a") == 2
    assert sample(reg, "assistant_action_errors_total", action="action_a") == 1
    assert sample(reg, "assistant_action_runs_total", action="unknown") == 1


def test_only_a_failed_check_makes_a_service_unready() -> None:
    async def silent() -> str:
        await asyncio.sleep(1)
        return "late"

    async def broken() -> str:
        raise ConnectionError("refused")

    late = asyncio.run(run_check(silent, timeout=0.01))
    assert late.status == FAILED and "0.01s" in late.detail
    degraded = asyncio.run(run_check(broken, timeout=1, on_error=DEGRADED))
    assert degraded == Check(DEGRADED, "ConnectionError: refused")
    assert readiness({"a": Check(OK), "b": degraded}) == (True, {"ready": True, "checks": {
        "a": {"status": "ok"}, "b": {"status": "degraded", "detail": "ConnectionError: refused"}}})
    assert readiness({"a": Check(OK), "b": late})[0] is False
