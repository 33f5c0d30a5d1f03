"""Operations routes of the action server, beside rasa-sdk's own GET /health (liveness):

    GET /metrics   Prometheus text format (observability.action_metrics)
    GET /ready     {"ready": bool, "checks": {...}}: 200 when the index is loaded and the
                   knowledge store is readable, else 503 with the reason

The knowledge base's retriever (index and sentence encoder, seconds to load) is loaded in a
thread when the server starts, instead of on the first question, so that readiness can say when
the instance is worth sending users to; a probe never waits for a load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from knowledge.knowledge_base import KnowledgeBase
from observability.action_metrics import CONTENT_TYPE, METRICS
from observability.checks import FAILED, OK, Check, readiness, run_check

log = logging.getLogger(__name__)

STORE_TIMEOUT_SECONDS = 2.0


class KnowledgeReadiness:
    """Loads the retriever off the event loop and tells whether the knowledge base can answer."""

    def __init__(self, knowledge_base: Callable[[], KnowledgeBase]) -> None:
        self._knowledge_base = knowledge_base
        self._loading: asyncio.Future | None = None
        self._error = ""

    def load(self) -> None:
        """Starts loading (or looking again for an index generation) unless a load runs."""
        if self._loading is not None and not self._loading.done():
            return
        kb = self._knowledge_base()  # on the loop thread: one shared instance, created once
        self._loading = asyncio.ensure_future(asyncio.to_thread(self._load, kb))

    def _load(self, kb: KnowledgeBase) -> None:
        try:
            retriever = kb.loaded_retriever
            if retriever is None:
                retriever = kb.retriever
            else:
                retriever.reload(force=True)
            self._error = ""
            log.info("knowledge base ready: generation %s", retriever.generation or "none")
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.exception("knowledge base could not be loaded")

    def index_check(self) -> Check:
        retriever = self._knowledge_base().loaded_retriever
        if retriever is not None and retriever.generation:
            return Check(OK, retriever.generation)
        self.load()  # not loaded yet, failed before, or loaded before any index existed
        if self._error:
            return Check(FAILED, self._error)
        if retriever is None:
            return Check(FAILED, "index loading")
        return Check(FAILED, "no index generation: run `bin/kb ingest`")

    async def checks(self) -> dict[str, Check]:
        store = self._knowledge_base().store
        return {
            "index": self.index_check(),
            "store": await run_check(
                lambda: asyncio.to_thread(_count_versions, store), STORE_TIMEOUT_SECONDS),
        }


def _count_versions(store: Any) -> str:
    return f"{len(store.versions())} document versions"


def add_ops_routes(app: Sanic, knowledge_base: Callable[[], KnowledgeBase]) -> None:
    """Adds /metrics and /ready to rasa-sdk's app and loads the knowledge base at start."""
    knowledge = KnowledgeReadiness(knowledge_base)

    async def load_on_start(*_: Any) -> None:
        knowledge.load()

    app.register_listener(load_on_start, "after_server_start")

    @app.get("/metrics")
    async def metrics(_: Request) -> HTTPResponse:
        METRICS.refresh_index(knowledge_base().loaded_retriever)
        return response.raw(METRICS.exposition(), content_type=CONTENT_TYPE)

    @app.get("/ready")
    async def ready(_: Request) -> HTTPResponse:
        ok, body = readiness(await knowledge.checks())
        return response.json(body, status=200 if ok else 503)
