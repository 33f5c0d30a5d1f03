"""Prometheus metrics of the action server: action runs and errors, retrieval scores, outcomes
and latency, and the index generation in service.

Why one module-owned registry per process: actions are instantiated by rasa-sdk without
arguments and call retrieval through `actions.knowledge_client`, while the page is served by a
route of the Sanic app (`action_ops`); a module is where both meet. The registry is our own, not
prometheus_client's default, so that the page holds exactly these metrics. Each Sanic worker
process has its own registry, so run one worker per action-server instance (the default) and
let Prometheus scrape every instance (docs/operations.md).

Nothing here decides anything about answers: it observes what `knowledge/` returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from knowledge.models import KnowledgeBaseUnavailable
from knowledge.retrieval.retriever import Retriever, SearchResult

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads
UNKNOWN_ACTION = "unknown"
OUTCOMES = ("answerable", "unanswerable", "unavailable")
# Top scores are in the units of the configured fusion (BM25-like for the default "rescue":
# answerable answers typically score 4-10, unrelated text below 1).
SCORE_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0)
RETRIEVAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ACTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Search = Callable[..., SearchResult]


class ActionMetrics:
    """The action server's metric objects."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.action_runs = Counter(
            "assistant_action_runs", "Action calls from Rasa, by action name.",
            ["action"], registry=registry)
        self.action_errors = Counter(
            "assistant_action_errors",
            "Action calls that raised (Rasa then gets HTTP 500 and the user a polite retry).",
            ["action"], registry=registry)
        self.action_latency = Histogram(
            "assistant_action_latency_seconds", "Time an action took, by action name.",
            ["action"], buckets=ACTION_BUCKETS, registry=registry)
        self.retrievals = Counter(
            "assistant_retrievals",
            "Knowledge-base searches by outcome: answerable (strong enough to be presented as "
            "the answer), unanswerable, unavailable (no index generation).",
            ["outcome"], registry=registry)
        self.retrieval_top_score = Histogram(
            "assistant_retrieval_top_score",
            "Score of the best passage per search, in the units of the fusion method.",
            ["fusion"], buckets=SCORE_BUCKETS, registry=registry)
        self.retrieval_latency = Histogram(
            "assistant_retrieval_latency_seconds", "Time one knowledge-base search took.",
            buckets=RETRIEVAL_BUCKETS, registry=registry)
        self.index_generation = Info(
            "assistant_index_generation",
            "The index generation this process serves (var/kb/index/CURRENT when it last "
            "looked).", registry=registry)
        self.index_loaded = Gauge(
            "assistant_index_generation_loaded_timestamp_seconds",
            "When this process started serving its index generation (UNIX time).",
            registry=registry)
        self.index_passages = Gauge(
            "assistant_index_passages", "Passages in the index generation in service.",
            registry=registry)
        for outcome in OUTCOMES:
            self.retrievals.labels(outcome)

    # -- actions --------------------------------------------------------------------------
    @contextmanager
    def action_run(self, name: str | None, known: Collection[str]) -> Iterator[None]:
        """Counts and times one action call; an exception counts as an error and propagates.
        `known` (the registered actions) keeps a caller-named action from adding a series."""
        label = name if name in known else UNKNOWN_ACTION
        self.action_runs.labels(label).inc()
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.action_errors.labels(label).inc()
            raise
        finally:
            self.action_latency.labels(label).observe(time.perf_counter() - started)

    # -- retrieval ------------------------------------------------------------------------
    def observed(self, search: Search) -> Search:
        """`search`, recording each call's latency, top score and outcome."""

        def observed_search(*args: Any, **kwargs: Any) -> SearchResult:
            started = time.perf_counter()
            try:
                result = search(*args, **kwargs)
            except KnowledgeBaseUnavailable:
                self.retrievals.labels("unavailable").inc()
                raise
            self.retrieval_latency.observe(time.perf_counter() - started)
            self.retrievals.labels("answerable" if result.answerable else "unanswerable").inc()
            if result.hits:
                self.retrieval_top_score.labels(result.fusion or "none").observe(
                    result.hits[0].score)
            return result

        return observed_search

    # -- the index in service -------------------------------------------------------------
    def refresh_index(self, retriever: Retriever | None) -> None:
        """Sets the index gauges from the retriever (None: not loaded yet); run per scrape."""
        health = retriever.health() if retriever is not None else {}
        self.index_generation.info({"generation": health.get("generation") or ""})
        self.index_loaded.set(health.get("loaded_at") or 0)
        self.index_passages.set(health.get("passages") or 0)

    def exposition(self) -> bytes:
        """The metrics page in Prometheus' text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


METRICS = ActionMetrics(CollectorRegistry())


def observed(search: Search) -> Search:
    """The one call the actions make: their search, measured (see `ActionMetrics.observed`)."""
    return METRICS.observed(search)
