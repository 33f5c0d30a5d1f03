"""Whether the staff console can serve staff: the checks behind GET /api/ready.

The console is useful only with its own database (accounts, sessions) and the Rasa server it
chats through and hands conversations back to; both must answer.
"""

from __future__ import annotations

import asyncio

import httpx

from assistant.console.users import ConsoleDatabase
from observability.checks import Check, run_check

DATABASE_TIMEOUT_SECONDS = 2.0
RASA_TIMEOUT_SECONDS = 2.0


async def console_checks(db: ConsoleDatabase, rasa_url: str) -> dict[str, Check]:
    database, rasa = await asyncio.gather(
        run_check(lambda: _database(db), DATABASE_TIMEOUT_SECONDS),
        run_check(lambda: _rasa(rasa_url), RASA_TIMEOUT_SECONDS),
    )
    return {"database": database, "rasa": rasa}


async def _database(db: ConsoleDatabase) -> str:
    has_users = await asyncio.to_thread(db.has_users)
    return "accounts present" if has_users else "no accounts yet"


async def _rasa(rasa_url: str) -> str:
    async with httpx.AsyncClient(timeout=RASA_TIMEOUT_SECONDS) as client:
        resp = await client.get(f"{rasa_url}/")
    resp.raise_for_status()
    return rasa_url
