"""`make run`: starts the action server, the Rasa server and the staff console, and keeps
them up until Ctrl-C.

`make run` has already installed the runtimes, ingested the sources and trained the model
if needed; this module only supervises the processes.
"""

from __future__ import annotations

import logging
import signal
import sys
import time

from assistant.model_builder import ensure_model
from assistant.servers import ServerStartError, action_server, console_server, rasa_server
from assistant.settings import RuntimeSettings

log = logging.getLogger("assistant")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = RuntimeSettings.from_env()
    model = ensure_model(settings)
    servers = [action_server(settings), rasa_server(settings, model), console_server(settings)]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for server in servers:
            log.info("starting %s (log: %s)", server.name, server.log_path)
            server.start()
        for server in servers:
            server.wait_healthy(settings.startup_timeout)
            log.info("%s is up: %s", server.name, server.health_url)
        print(
            f"\n助手已启动 / assistant is up.\n"
            f"  REST: curl -s {settings.rasa_url}/webhooks/rest/webhook"
            f" -H 'Content-Type: application/json'"
            f" -d '{{\"sender\": \"me\", \"message\": \"审批有没有绿色通道？\"}}'\n"
            f"  Staff console: {settings.console_url}/  (accounts: make console-user)\n"
            f"  Shell: make shell    Logs: {settings.log_dir}    Stop: Ctrl-C\n",
            flush=True,
        )
        while not stopping:
            for server in servers:
                if server.process and server.process.poll() is not None:
                    log.error("%s stopped unexpectedly; see %s", server.name, server.log_path)
                    return 1
            time.sleep(1)
        return 0
    except ServerStartError as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping servers")
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
