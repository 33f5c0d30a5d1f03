"""The action server's Sanic app: rasa-sdk's app, with every action call counted and timed,
and the operations routes (/metrics, /ready) beside rasa-sdk's /health.

rasa-sdk's own `run` builds its app inside and offers no hook to add routes, so this module
repeats its few serving steps around `create_app_for_serve` (rasa_sdk/endpoint.py). The factory
is module-level because Sanic builds the app again in its worker process from a pickled
reference to it.

Who may call it: with ACTION_SERVER_TOKEN set (both profiles of `make run`, a deployment),
every route but the probes (/health, /ready, /metrics) answers 401 unless the request carries
that secret in the X-Action-Token header, which Rasa sends from endpoints.yml or
endpoints-scaled.yml; compared in constant time. It listens on SANIC_HOST, by default loopback
(rasa-sdk's default is every address).
"""

from __future__ import annotations

import hmac
import logging
import os
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import DEFAULT_ENDPOINTS_PATH
from rasa_sdk.endpoint import create_app_for_serve, create_ssl_config
from rasa_sdk.executor import ActionExecutor, ActionExecutorRunResult
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from action_server.ops import add_ops_routes
from observability import redaction
from observability.action_metrics import METRICS

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})  # probes and Prometheus


class MeasuredActionExecutor(ActionExecutor):
    """rasa-sdk's executor; each run is counted and timed by action name."""

    async def run(
        self, action_call: dict[str, Any], *args: Any, **kwargs: Any,
    ) -> ActionExecutorRunResult | None:
        name = action_call.get("next_action")
        try:
            with METRICS.action_run(name, self.actions):
                return await super().run(action_call, *args, **kwargs)
        except (ActionExecutionRejection, ActionMissingDomainException):
            raise  # protocol answers (a form rejecting a slot, "send the domain"), not faults


def build_app(
    actions_package: str, cors_origins: str | list[str] | None = "*",
    auto_reload: bool = False, endpoints: str = DEFAULT_ENDPOINTS_PATH,
) -> Sanic:
    """The app for the primary process and each worker (Sanic's AppLoader factory)."""
    from actions.knowledge_client import knowledge_base

    redaction.install()  # a worker is a new process: its logging needs the redaction too

    executor = MeasuredActionExecutor()
    executor.register_package(actions_package)
    app = create_app_for_serve(executor, cors_origins=cors_origins, auto_reload=auto_reload,
                               endpoints=endpoints)
    add_ops_routes(app, knowledge_base)
    require_caller_secret(app, os.environ.get(TOKEN_VARIABLE, ""))
    return app


def require_caller_secret(app: Sanic, secret: str) -> None:
    """Refuses (401) every request but the probes that lacks `secret` in X-Action-Token;
    nothing when `secret` is empty."""
    if not secret:
        return
    expected = secret.encode("utf-8")

    @app.on_request
    async def check_caller(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        sent = request.headers.get(TOKEN_HEADER, "").encode("utf-8", "replace")
        if hmac.compare_digest(sent, expected):
            return None
        return response.json({"error": "unauthorized",
                              "detail": f"this action server needs the {TOKEN_HEADER} header"},
                             status=401)


def serve(
    actions_package: str, port: int, cors_origins: str | list[str] | None = "*",
    ssl_certificate: str | None = None, ssl_keyfile: str | None = None,
    ssl_password: str | None = None, auto_reload: bool = False,
    endpoints: str = DEFAULT_ENDPOINTS_PATH,
) -> None:
    """Serves until stopped, on SANIC_HOST (default loopback) and `port`."""
    redaction.install()
    loader = AppLoader(factory=partial(build_app, actions_package, cors_origins, auto_reload,
                                       endpoints))
    app = loader.load()
    ssl = create_ssl_config(ssl_certificate, ssl_keyfile, ssl_password)
    host = os.environ.get("SANIC_HOST") or DEFAULT_HOST
    log.info("action server on %s://%s:%d; action calls %s", "https" if ssl else "http", host,
             port, f"need the {TOKEN_HEADER} header" if os.environ.get(TOKEN_VARIABLE)
             else f"are not authenticated ({TOKEN_VARIABLE} unset: keep it on loopback)")
    app.prepare(host=host, port=port, ssl=ssl, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)
