"""`python -m assistant.console` serves the console; `… add-user NAME --role admin` adds staff
or resets an account's password (which ends every session of the account); `… unlock NAME
[--address ADDR]` lifts the login lockouts of an account (and of one client address).

The password for add-user comes from CONSOLE_PASSWORD or is asked for at the terminal.
On start, when there are no accounts yet and CONSOLE_ADMIN_PASSWORD is set, an `admin`
account is created with it (first run of `make run`). Both commands are audited on the
`assistant.console` logger, as logins are.
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
    unlock = sub.add_parser("unlock", help="lift the login lockouts of an account")
    unlock.add_argument("username")
    unlock.add_argument("--address", help="also lift this client address's lockout on every "
                                          "account (the address is in the console's log)")
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
            saved = db.save_user(args.username, password, args.role)
        except ValueError as exc:
            print(f"console: {exc}", file=sys.stderr)
            return 2
        if saved.created:
            log.info("console: account %r (%s) created", args.username, args.role)
        else:
            log.warning("console: password of %r reset (role %s); %d sessions signed out, "
                        "login lockouts of the account lifted", args.username, args.role,
                        saved.sessions_ended)
        print(f"account {saved.user.username} ({saved.user.role}) saved in {settings.console_db}")
        return 0

    if args.command == "unlock":
        if db.user(args.username) is None:
            print(f"console: no account {args.username!r} in {settings.console_db}",
                  file=sys.stderr)
            return 2
        cleared = db.unlock(args.username, args.address)
        log.warning("console: login lockouts of %r lifted%s (%d counts cleared)",
                    args.username, f" and of {args.address}" if args.address else "", cleared)
        print(f"account {args.username}: login lockouts lifted"
              + (f", and those of {args.address}" if args.address else ""))
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
