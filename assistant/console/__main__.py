"""`python -m assistant.console` serves the console; `… add-user NAME --role admin` adds staff.

The password for add-user comes from CONSOLE_PASSWORD or is asked for at the terminal.
On start, when there are no accounts yet and CONSOLE_ADMIN_PASSWORD is set, an `admin`
account is created with it (first run of `make run`).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

import uvicorn

from assistant.console.app import create_app
from assistant.console.delivery import RasaGateway
from assistant.console.users import ROLES, ConsoleDatabase
from assistant.settings import ConsoleAccountSettings, RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from observability import redaction

log = logging.getLogger("assistant.console")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.console")
    sub = parser.add_subparsers(dest="command")
    add = sub.add_parser("add-user", help="create or reset a staff account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="staff")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # No secret in the console's log: httpx logs every request's URL at INFO, and Rasa's HTTP
    # API takes its token in the query string (RasaGateway); the WeChat API its access token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redaction.install()
    settings, accounts = RuntimeSettings(), ConsoleAccountSettings()
    db = ConsoleDatabase(settings.console_db, settings.session_hours)

    if args.command == "add-user":
        password = accounts.password.get_secret_value() or getpass.getpass("password: ")
        try:
            user = db.add_user(args.username, password, args.role)
        except ValueError as exc:
            print(f"console: {exc}", file=sys.stderr)
            return 2
        print(f"account {user.username} ({user.role}) saved in {settings.console_db}")
        return 0

    first_admin = accounts.first_admin_password.get_secret_value()
    if not db.has_users():
        if first_admin:
            db.add_user("admin", first_admin, "admin")
            log.info("created the first account: admin")
        else:
            log.warning("no console accounts yet: run `make console-user NAME=admin ROLE=admin`")
    app = create_app(settings, KnowledgeBase.from_env(), db, RasaGateway(settings))
    uvicorn.run(app, host=settings.host, port=settings.console_port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
