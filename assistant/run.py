"""`make run`: starts the action server, the Rasa server and the staff console, and keeps
them up until Ctrl-C. `make run PROFILE=scaled` starts the scaled profile instead: PostgreSQL,
Redis, several Rasa and action server instances behind nginx (docs/scaling.md).

`make run` has already installed the runtimes, ingested the sources and trained the model
if needed; this module only supervises the processes.
"""

from __future__ import annotations

import logging
import signal
import sys
import time

from pydantic import ValidationError

from assistant.model_builder import ensure_model
from assistant.scaleout.deployment import build_deployment
from assistant.servers import ServerStartError
from assistant.settings import RuntimeSettings

log = logging.getLogger("assistant")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        settings = RuntimeSettings().with_local_secrets()
    except ValidationError as exc:  # names each variable and what it must be
        log.error("the environment does not configure the assistant: %s", exc)
        return 2
    model = ensure_model(settings)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    deployment = None
    try:
        log.info("profile: %s", settings.profile)
        deployment = build_deployment(settings, model, log=log.info)
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
        while not stopping:
            for server in deployment.exited():
                log.error("%s stopped unexpectedly; see %s", server.name, server.log_path)
                return 1
            time.sleep(1)
        return 0
    except ServerStartError as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping servers")
        if deployment is not None:
            deployment.stop()


if __name__ == "__main__":
    sys.exit(main())
