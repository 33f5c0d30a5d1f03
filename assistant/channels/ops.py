"""Operations endpoints of the Rasa server, as an input channel named `ops`.

    GET /webhooks/ops/metrics   Prometheus text format (observability.rasa_metrics)
    GET /webhooks/ops/ready     {"ready": bool, "checks": {...}}: 200 when ready, else 503

Liveness stays Rasa's own `GET /`. A channel is the only way to add routes to `rasa run`
without patching Rasa; it never receives user messages. These routes are unauthenticated like
`GET /`: in a deployment, let only the monitoring network reach /webhooks/ops/ (docs/operations.md).

Every Rasa server loads this channel (credentials.yml), so it also installs the measured
speed-ups of assistant/rasa_speedups.py: on import, and (the heap freeze) once the server
has started with its model loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant import rasa_speedups
from observability.checks import readiness
from observability.rasa_metrics import CONTENT_TYPE, METRICS
from observability.rasa_readiness import rasa_checks

rasa_speedups.install()
log = logging.getLogger(__name__)


class OpsInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "ops"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("ops", __name__)

        @bp.route("/metrics", methods=["GET"])
        async def metrics(_: Request) -> HTTPResponse:
            return response.raw(METRICS.exposition(), content_type=CONTENT_TYPE)

        @bp.listener("after_server_start")
        async def freeze_startup_heap(_app: Any, _loop: Any) -> None:
            frozen = rasa_speedups.freeze_startup_heap()
            log.info("gc: %d start-up objects frozen", frozen)

        @bp.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            ok, body = readiness(await rasa_checks(getattr(request.app.ctx, "agent", None)))
            return response.json(body, status=200 if ok else 503)

        return bp
