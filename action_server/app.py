"""The action server's Sanic app: rasa-sdk's app, with every action call counted and timed,
and the operations routes (/metrics, /ready) beside rasa-sdk's /health.

rasa-sdk's own `run` builds its app inside and offers no hook to add routes, so this module
repeats its few serving steps around `create_app_for_serve` (rasa_sdk/endpoint.py). The factory
is module-level because Sanic builds the app again in its worker process from a pickled
reference to it.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import DEFAULT_ENDPOINTS_PATH
from rasa_sdk.endpoint import create_app_for_serve, create_ssl_config
from rasa_sdk.executor import ActionExecutor, ActionExecutorRunResult
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException
from sanic import Sanic
from sanic.worker.loader import AppLoader

from action_server.ops import add_ops_routes
from observability.action_metrics import METRICS

log = logging.getLogger(__name__)


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

    executor = MeasuredActionExecutor()
    executor.register_package(actions_package)
    app = create_app_for_serve(executor, cors_origins=cors_origins, auto_reload=auto_reload,
                               endpoints=endpoints)
    add_ops_routes(app, knowledge_base)
    return app


def serve(
    actions_package: str, port: int, cors_origins: str | list[str] | None = "*",
    ssl_certificate: str | None = None, ssl_keyfile: str | None = None,
    ssl_password: str | None = None, auto_reload: bool = False,
    endpoints: str = DEFAULT_ENDPOINTS_PATH,
) -> None:
    """Serves until stopped, on SANIC_HOST (rasa-sdk's default 0.0.0.0) and `port`."""
    loader = AppLoader(factory=partial(build_app, actions_package, cors_origins, auto_reload,
                                       endpoints))
    app = loader.load()
    ssl = create_ssl_config(ssl_certificate, ssl_keyfile, ssl_password)
    host = os.environ.get("SANIC_HOST", "0.0.0.0")
    log.info("action server on %s://%s:%d", "https" if ssl else "http", host, port)
    app.prepare(host=host, port=port, ssl=ssl, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)
