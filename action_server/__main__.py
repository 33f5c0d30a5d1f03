"""`python -m action_server`: rasa-sdk with the project's actions, plus /metrics and /ready.

Same command line as rasa-sdk's (`--port`, `--actions`, `--cors`, SSL and logging flags; host
from SANIC_HOST, default loopback; the callers' secret from ACTION_SERVER_TOKEN); the app is
built in action_server/app.py. `--grpc` goes to rasa-sdk's own
gRPC server, which has no operations routes.
"""

from __future__ import annotations

import logging

DEFAULT_ACTIONS = "actions"


def main(argv: list[str] | None = None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser

    from action_server.app import serve
    from observability import redaction

    redaction.install()
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
