"""`python -m assistant.rasa_launcher run ...` (in Rasa's runtime): `rasa run ...` with the HTTP
API token taken from the environment instead of the command line.

Rasa 3.6 reads `--auth-token` from its arguments only, and a process's arguments are public:
`ps` and /proc/<pid>/cmdline show them to every user of the host. This launcher reads
RASA_API_TOKEN, removes it from the environment (nothing Rasa starts needs it), adds
`--auth-token=…` to the arguments in-process (`sys.argv`, which the kernel's copy never sees)
and runs Rasa's own entry point. It also installs the log redaction (observability.redaction)
before Rasa configures its logging, so no token or password reaches Rasa's log.

And it makes a stopping server let go of its clients (`close_connections_when_stopping`).
Sanic 21.12 (Rasa's) stops listening at SIGTERM, then serves the connections that were busy
at the signal for up to GRACEFUL_SHUTDOWN_TIMEOUT (15 s) and aborts them. A busy connection
that finishes its response stays open (keep-alive), so a client's connection pool carried
its next turns to the dying server, and the turn in flight at the deadline was cut ("Server
disconnected without sending a response", issue 26, finding 12). Once the server is
stopping, each response closes its connection: the turn in flight is answered, and the
client's next turn connects afresh, to the restarted server.

Standard library and Rasa only: it runs inside Rasa's Python 3.10.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from observability import redaction

TOKEN_VARIABLE = "RASA_API_TOKEN"


def rasa_argv(argv: list[str], token: str) -> list[str]:
    """Rasa's argv: the token goes right after the subcommand, as one `--auth-token=…` word
    (a token starting with "-" is then still a value, and Rasa's check of the last argument
    for a model path still sees the caller's last argument)."""
    if not token:
        return ["rasa", *argv]
    if not argv or argv[0].startswith("-"):
        raise SystemExit("rasa_launcher: name the Rasa subcommand first (e.g. `run`)")
    return ["rasa", argv[0], f"--auth-token={token}", *argv[1:]]


def close_connections_when_stopping(app: Any) -> None:
    """From the stop signal on, every response of `app` (a Sanic 21.12 app) closes its
    connection instead of keeping it alive for the client's next request."""
    stopping = False

    async def mark_stopping(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    async def close_after_response(request: Any, _response: Any) -> None:
        if stopping and request.stream is not None:
            request.stream.keep_alive = False  # Sanic then sends "Connection: close"

    # Sanic runs the stop listeners before it closes the listening socket
    app.register_listener(mark_stopping, "before_server_stop")
    app.register_middleware(close_after_response, "response")


def install_connection_closing() -> None:
    """Every Sanic app `rasa run` builds (rasa.core.run.configure_app) closes its connections
    once it is stopping."""
    import rasa.core.run as rasa_run

    build = rasa_run.configure_app
    if getattr(build, "closes_connections_when_stopping", False):
        return

    @functools.wraps(build)
    def configure_app(*args: Any, **kwargs: Any) -> Any:
        app = build(*args, **kwargs)
        close_connections_when_stopping(app)
        return app

    configure_app.closes_connections_when_stopping = True  # type: ignore[attr-defined]
    rasa_run.configure_app = configure_app


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise SystemExit(f"rasa_launcher: pass the token in {TOKEN_VARIABLE}, not as an argument")
    token = os.environ.pop(TOKEN_VARIABLE, "")
    redaction.install(secrets=[token])
    sys.argv = rasa_argv(args, token)
    install_connection_closing()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
