"""`make run`: starts the action server, the Rasa server and the staff console, and keeps
them up until Ctrl-C. `make run PROFILE=scaled` starts the scaled profile instead: PostgreSQL,
Redis, several Rasa and action server instances behind nginx (docs/scaling.md).

`make run` has already installed the runtimes, ingested the sources and trained the model
if needed; this module only supervises the processes. A server that stops without being asked
to is restarted (with a back-off, up to a limit: `Supervisor`) while the others keep serving;
Ctrl-C or SIGTERM stops them all. Files it and the servers create are the service user's
only (umask 077; var/ and its directories 0700).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from pydantic import ValidationError

from assistant.model_builder import ensure_model
from assistant.scaleout.deployment import Supervisor, build_deployment
from assistant.servers import (
    PRIVATE_UMASK,
    ServerStartError,
    run_dir,
    secure_var_dir,
    write_action_token,
)
from assistant.settings import ClusterPasswordUnknown, RuntimeSettings
from observability import redaction

log = logging.getLogger("assistant")
TICK_SECONDS = 0.5


def main() -> int:
    os.umask(PRIVATE_UMASK)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        settings = RuntimeSettings().with_local_secrets()
    except ValidationError as exc:  # names each variable and what it must be
        log.error("the environment does not configure the assistant: %s", exc)
        return 2
    except ClusterPasswordUnknown as exc:  # says what to do, in Chinese and English
        log.error("%s", exc)
        return 2
    redaction.install(secrets=[settings.rasa_api_token, settings.action_server_token,
                               settings.scale.postgres_password.get_secret_value()])
    secure_var_dir(settings)
    model = ensure_model(settings)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    deployment = None
    # for `make shell`, which calls this run's action server (0600; removed when the run ends)
    token_file = write_action_token(settings)
    try:
        log.info("profile: %s", settings.profile)
        deployment = build_deployment(settings, model, log=log.info)
        for server in deployment:
            server.die_with_parent = True  # a killed supervisor leaves no server behind
        deployment.start(settings.startup_timeout)
        print(
            f"\n助手已启动 / assistant is up ({settings.profile} profile).\n"
            f"  REST: curl -s {settings.rasa_url}/webhooks/rest/webhook"
            f" -H 'Content-Type: application/json'"
            f" -d '{{\"sender\": \"me\", \"message\": \"审批有没有绿色通道？\"}}'\n"
            f"  Staff console: {settings.console_url}/  (accounts: make console-user)\n"
            f"  Shell: make shell    Logs: {settings.log_dir}    Stop: Ctrl-C\n",
            flush=True,
        )
        supervisor = Supervisor(deployment, status_file=run_dir(settings) / "supervisor.prom",
                                startup_timeout=settings.startup_timeout, log=log)
        while not stopping:
            supervisor.tick()
            time.sleep(TICK_SECONDS)
        return 0
    except (ServerStartError, ClusterPasswordUnknown) as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping servers")
        if deployment is not None:
            deployment.stop()
        token_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
