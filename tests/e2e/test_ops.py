"""End-to-end: liveness, readiness and Prometheus metrics of the real servers.

Real Rasa and action servers (the session fixtures), real turns over the REST channel; the
metrics pages are read before and after each scenario and parsed with prometheus_client's own
parser, so every assertion is about what Prometheus would scrape.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ConsoleDatabase
from assistant.servers import ServerProcess
from knowledge.indexing import current_generation
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.live_servers import Assistant, free_port

pytestmark = pytest.mark.e2e

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
POLICY_QUESTION = "审批有没有绿色通道？"
UNCOVERED_QUESTION = "环保验收报告要花多少钱"


class Metrics:
    """One scrape: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {(s.name, frozenset(s.labels.items())): s.value
                        for f in self.families.values() for s in f.samples}

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str) -> float:
        """Sum over every label combination (e.g. a histogram's count across labels)."""
        return sum(v for (n, _), v in self.samples.items() if n == name)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(lbls)[label] for (n, lbls) in self.samples if n == name and lbls}


def scrape(client: httpx.Client, url: str) -> Metrics:
    resp = client.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith(PROMETHEUS_TEXT)
    return Metrics(resp.text)


Scrape = Callable[[], Metrics]


def new_user() -> str:
    return f"ops-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def rasa_metrics(assistant: Assistant) -> Scrape:
    return lambda: scrape(assistant.client,
                         f"{assistant.settings.rasa_url}/webhooks/ops/metrics")


@pytest.fixture()
def action_metrics(assistant: Assistant) -> Scrape:
    return lambda: scrape(assistant.client, f"{assistant.settings.action_url}/metrics")


def wait_ready(client: httpx.Client, url: str, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(url)
        if resp.status_code == 200 or time.monotonic() > deadline:
            return resp
        time.sleep(0.5)


# -- readiness -------------------------------------------------------------------------------
def test_rasa_is_live_and_ready_with_every_check(assistant: Assistant) -> None:
    assert assistant.client.get(f"{assistant.settings.rasa_url}/").status_code == 200
    resp = assistant.client.get(f"{assistant.settings.rasa_url}/webhooks/ops/ready")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ready"] is True
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "model": "ok", "tracker_store": "ok", "lock_store": "ok", "action_server": "ok"}
    assert body["checks"]["tracker_store"]["detail"] == "AssistantSQLTrackerStore"


def test_rasa_froze_its_start_up_heap(assistant: Assistant, rasa_server_process) -> None:
    """Full collections must not walk the model's objects during turns (rasa_speedups)."""
    import re

    frozen = re.findall(r"gc: (\d+) start-up objects frozen",
                        rasa_server_process.log_path.read_text(errors="replace"))
    assert frozen and int(frozen[-1]) > 100_000


def test_action_server_is_live_and_ready_with_the_index_it_serves(
    assistant: Assistant, kb_home: Path,
) -> None:
    assert assistant.client.get(f"{assistant.settings.action_url}/health").json() == {
        "status": "ok"}
    resp = wait_ready(assistant.client, f"{assistant.settings.action_url}/ready")
    assert resp.status_code == 200, resp.text
    checks = resp.json()["checks"]
    assert checks["index"]["status"] == "ok" and checks["index"]["detail"].startswith("gen-")
    assert checks["store"]["status"] == "ok"


def test_console_is_ready_only_while_rasa_answers(
    assistant: Assistant, kb_home: Path, tmp_path: Path,
) -> None:
    kb = KnowledgeBase(KnowledgeSettings(home=kb_home))
    db = ConsoleDatabase(tmp_path / "console.db")
    db.add_user("ops", "ops-password", "staff")
    login = {"username": "ops", "password": "ops-password"}
    app = create_app(assistant.settings, kb, db, RasaGateway(assistant.settings))
    with TestClient(app) as console:
        assert console.get("/api/ready").json() == {"ready": True}  # anonymous: up or down
        assert console.post("/api/login", json=login).status_code == 200
        resp = console.get("/api/ready")  # staff: each check
        assert resp.status_code == 200, resp.text
        assert {n: c["status"] for n, c in resp.json()["checks"].items()} == {
            "database": "ok", "rasa": "ok"}
        assert console.get("/api/health").json()["status"] == "ok"

    nowhere = assistant.settings.model_copy(update={"rasa_port": free_port()})  # nothing listens there
    app = create_app(nowhere, kb, db, RasaGateway(nowhere))
    with TestClient(app) as console:
        assert console.get("/api/ready").status_code == 503
        assert console.post("/api/login", json=login).status_code == 200
        resp = console.get("/api/ready")
        assert resp.status_code == 503
        body = resp.json()
        assert body["ready"] is False and body["checks"]["rasa"]["status"] == "failed"
        assert body["checks"]["rasa"]["detail"]  # the reason, for whoever is paged


# -- Rasa: turns, fallbacks, handoffs, feedback ------------------------------------------------
def test_every_turn_is_counted_once_for_its_channel(
    assistant: Assistant, rasa_metrics: Scrape,
) -> None:
    before = rasa_metrics()
    user = new_user()
    for message in ("你好", POLICY_QUESTION, "谢谢"):
        assert assistant.reply(user, message)
    # A REST client may name any input_channel; it must not become a new time series.
    resp = assistant.client.post(
        f"{assistant.settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": user, "message": "你好", "input_channel": f"made-up-{uuid.uuid4().hex}"})
    assert resp.status_code == 200 and resp.json()
    after = rasa_metrics()

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert grew("assistant_turns_total", channel="rest") == 3
    assert grew("assistant_turns_total", channel="other") == 1
    assert grew("assistant_turns_total", channel="wechat") == 0
    assert after.label_values("assistant_turns_total", "channel") == {"rest", "wechat", "other"}
    assert grew("assistant_turn_latency_seconds_count", channel="rest") == 3
    assert grew("assistant_turn_latency_seconds_sum", channel="rest") > 0
    assert grew("assistant_intent_confidence_count") == 4
    assert grew("assistant_intents_total", intent="greet") == 2


def test_low_confidence_twice_counts_both_fallback_stages_then_the_handoff(
    assistant: Assistant, rasa_metrics: Scrape,
) -> None:
    # nlu_fallback is what NLU yields for a low-confidence message (gibberish); sent directly
    # (Rasa's HTTP API) so that the test does not depend on how the model scores a given text.
    before = rasa_metrics()
    user = new_user()
    assert "没太理解" in assistant.trigger(user, "nlu_fallback")
    middle = rasa_metrics()
    assert "转人工" in assistant.trigger(user, "nlu_fallback")
    assert "已为您转接人工" in assistant.reply(user, "好的")
    after = rasa_metrics()

    assert middle.value("assistant_fallbacks_total", stage="rephrase") == (
        before.value("assistant_fallbacks_total", stage="rephrase") + 1)
    assert middle.value("assistant_intents_total", intent="nlu_fallback") == (
        before.value("assistant_intents_total", intent="nlu_fallback") + 1)
    for name, labels, delta in (
        ("assistant_intents_total", {"intent": "nlu_fallback"}, 2),
        ("assistant_fallbacks_total", {"stage": "rephrase"}, 1),
        ("assistant_fallbacks_total", {"stage": "offer_human"}, 1),
        ("assistant_human_offers_total", {"reason": "after_fallback"}, 1),
        ("assistant_handoffs_total", {"reason": "accepted_offer"}, 1),
        ("assistant_handoffs_total", {"reason": "user_request"}, 0),
    ):
        assert after.value(name, **labels) - before.value(name, **labels) == delta, (name, labels)


def test_asking_for_a_human_counts_a_handoff(
    assistant: Assistant, rasa_metrics: Scrape,
) -> None:
    before = rasa_metrics()
    assert "已为您转接人工" in assistant.reply(new_user(), "转人工")
    after = rasa_metrics()
    assert after.value("assistant_handoffs_total", reason="user_request") == (
        before.value("assistant_handoffs_total", reason="user_request") + 1)


def test_negative_feedback_and_uncovered_questions_are_counted(
    assistant: Assistant, rasa_metrics: Scrape,
) -> None:
    before = rasa_metrics()
    user = new_user()
    assert "——出自" in assistant.reply(user, POLICY_QUESTION)
    assert "反馈已记录" in assistant.reply(user, "你这答非所问，没用")
    assert "转人工吗" in assistant.reply(new_user(), UNCOVERED_QUESTION)
    after = rasa_metrics()
    assert after.value("assistant_negative_feedback_total") == (
        before.value("assistant_negative_feedback_total") + 1)
    for reason in ("negative_feedback", "not_covered"):
        assert after.value("assistant_human_offers_total", reason=reason) == (
            before.value("assistant_human_offers_total", reason=reason) + 1)


# -- action server: retrieval, actions, index generation --------------------------------------
def test_policy_questions_move_retrieval_and_action_metrics(
    assistant: Assistant, action_metrics: Scrape,
) -> None:
    before = action_metrics()
    assert "——出自" in assistant.reply(new_user(), POLICY_QUESTION)
    answered = action_metrics()
    assert "——出自" not in assistant.reply(new_user(), UNCOVERED_QUESTION)
    after = action_metrics()

    def grew(a: Metrics, b: Metrics, name: str, **labels: str) -> float:
        return b.value(name, **labels) - a.value(name, **labels)

    assert grew(before, answered, "assistant_retrievals_total", outcome="answerable") == 1
    assert grew(before, answered, "assistant_retrievals_total", outcome="unanswerable") == 0
    assert answered.total("assistant_retrieval_top_score_count") == (
        before.total("assistant_retrieval_top_score_count") + 1)
    assert answered.total("assistant_retrieval_top_score_sum") > (
        before.total("assistant_retrieval_top_score_sum"))
    assert grew(before, answered, "assistant_retrieval_latency_seconds_count") == 1
    assert grew(before, answered, "assistant_action_runs_total",
                action="action_answer_policy_question") == 1
    assert grew(before, answered, "assistant_action_latency_seconds_count",
                action="action_answer_policy_question") == 1
    assert grew(answered, after, "assistant_retrievals_total", outcome="unanswerable") == 1
    assert grew(answered, after, "assistant_retrievals_total", outcome="answerable") == 0
    assert after.value("assistant_action_errors_total",
                       action="action_answer_policy_question") == 0


def test_index_generation_metric_is_the_generation_the_knowledge_base_serves(
    assistant: Assistant, action_metrics: Scrape, kb_home: Path,
) -> None:
    live = current_generation(KnowledgeSettings(home=kb_home).index_root)
    assert live is not None
    # The action server looks for a newer generation at most every reload_check_seconds
    # (2 s), on a question; another suite may have published one just before.
    deadline = time.monotonic() + 30
    while True:
        assistant.reply(new_user(), POLICY_QUESTION)
        metrics = action_metrics()
        served = metrics.label_values("assistant_index_generation_info", "generation")
        if served == {live.name} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert served == {live.name}
    assert metrics.value("assistant_index_generation_info", generation=live.name) == 1
    assert metrics.value("assistant_index_generation_loaded_timestamp_seconds") > 0
    assert metrics.value("assistant_index_passages") > 0


def test_metrics_pages_are_valid_prometheus_text_with_every_family(
    rasa_metrics: Scrape, action_metrics: Scrape,
) -> None:
    rasa, action = rasa_metrics(), action_metrics()
    assert {"assistant_turns", "assistant_turn_latency_seconds", "assistant_intents",
            "assistant_intent_confidence", "assistant_fallbacks", "assistant_human_offers",
            "assistant_handoffs", "assistant_negative_feedback"} <= set(rasa.families)
    assert {"assistant_action_runs", "assistant_action_errors",
            "assistant_action_latency_seconds", "assistant_retrievals",
            "assistant_retrieval_top_score", "assistant_retrieval_latency_seconds",
            "assistant_index_generation_info",
            "assistant_index_generation_loaded_timestamp_seconds",
            "assistant_index_passages"} <= set(action.families)
    assert rasa.families["assistant_turn_latency_seconds"].type == "histogram"
    assert action.families["assistant_retrievals"].type == "counter"


# -- last: restarts the action server ---------------------------------------------------------
def test_rasa_stays_ready_but_degraded_while_the_action_server_is_down(
    assistant: Assistant, action_server_process: ServerProcess,
) -> None:
    url = f"{assistant.settings.rasa_url}/webhooks/ops/ready"
    action_server_process.stop()
    try:
        resp = assistant.client.get(url)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["ready"] is True
        assert body["checks"]["action_server"]["status"] == "degraded"
        assert body["checks"]["action_server"]["detail"]
    finally:
        action_server_process.start()
        action_server_process.wait_healthy(120)
    assert assistant.client.get(url).json()["checks"]["action_server"]["status"] == "ok"
