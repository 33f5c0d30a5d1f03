"""Service routes: liveness (no login, for the supervisor and the page) and readiness.

Anonymous callers (the supervisor, a load balancer, anyone the reverse proxy lets through)
learn only up or down; the details (accounts present, the Rasa URL, each check's reason) are
for signed-in staff.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from assistant.console.api.deps import Db, MaybeStaff, Settings
from assistant.console.readiness import console_checks
from observability.checks import readiness

router = APIRouter(tags=["service"])


@router.get("/health")
def health(db: Db, settings: Settings, user: MaybeStaff) -> dict[str, Any]:
    if user is None:
        return {"status": "ok"}
    return {"status": "ok", "users": db.has_users(), "rasa": settings.rasa_url}


@router.get("/ready")
async def ready(response: Response, db: Db, settings: Settings,
                user: MaybeStaff) -> dict[str, Any]:
    """200 when the console database answers and Rasa is reachable, else 503 (and why, to
    staff)."""
    ok, body = readiness(await console_checks(db, settings.rasa_url))
    response.status_code = 200 if ok else 503
    return body if user is not None else {"ready": ok}
