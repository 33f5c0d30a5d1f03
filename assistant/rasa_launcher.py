"""`python -m assistant.rasa_launcher run ...` (in Rasa's runtime): `rasa run ...` with the HTTP
API token taken from the environment instead of the command line.

Rasa 3.6 reads `--auth-token` from its arguments only, and a process's arguments are public:
`ps` and /proc/<pid>/cmdline show them to every user of the host. This launcher reads
RASA_API_TOKEN, removes it from the environment (nothing Rasa starts needs it), adds
`--auth-token=…` to the arguments in-process (`sys.argv`, which the kernel's copy never sees)
and runs Rasa's own entry point. It also installs the log redaction (observability.redaction)
before Rasa configures its logging, so no token or password reaches Rasa's log.

Standard library and Rasa only: it runs inside Rasa's Python 3.10.
"""

from __future__ import annotations

import os
import sys

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


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise SystemExit(f"rasa_launcher: pass the token in {TOKEN_VARIABLE}, not as an argument")
    token = os.environ.pop(TOKEN_VARIABLE, "")
    redaction.install(secrets=[token])
    sys.argv = rasa_argv(args, token)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
