"""Starts the action server: rasa-sdk with the project's actions, plus /metrics and /ready.

Same command line as rasa-sdk's (`--port`, `--actions`, `--cors`, SSL and logging flags; host
from SANIC_HOST); the app is built in assistant/action_app.py. `--grpc` goes to rasa-sdk's own
gRPC server, which has no operations routes.

We run rasa 3.6 (the last Rasa Open Source release, Python <= 3.10) against rasa-sdk 3.2x
(Python 3.11, needed by the knowledge stack). The action protocol between them is unchanged
and covered by our end-to-end tests, so rasa-sdk's per-request "versions might not be
compatible" warning is known and deliberately silenced here, and only that warning. The
filter sits at module level because Sanic re-imports this module in its worker process.
"""

from __future__ import annotations

import logging
import warnings

warnings.filterwarnings(
    "ignore", message=r"Your versions of rasa and rasa_sdk might not be compatible"
)

DEFAULT_ACTIONS = "actions"


def main(argv: list[str] | None = None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser

    from assistant.action_app import serve

    args = create_argument_parser().parse_args(argv)
    if not (args.actions or args.actions_module):
        args.actions = DEFAULT_ACTIONS
    if args.grpc:
        main_from_args(args)
        return
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
                                 args.log_file, args.loglevel, args.logging_config_file)
    utils.update_sanic_log_level()
    serve(args.actions_module or args.actions, args.port, args.cors, args.ssl_certificate,
          args.ssl_keyfile, args.ssl_password, args.auto_reload, args.endpoints)


if __name__ == "__main__":
    main()
