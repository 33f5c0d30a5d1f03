"""Sessions: log in (sets the HTTP-only session cookie and hands out the session's CSRF token),
log out, and who is logged in (the token again, for a reloaded page).

Logins are throttled per account name and per client address (`users.LoginThrottle`): while
either is locked, attempts get 429 with `Retry-After`, right password or not.
"""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from assistant.console.api.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Db,
    Settings,
    Staff,
    client_address,
    request_is_https,
)
from assistant.console.users import csrf_token
from assistant.settings import RuntimeSettings

log = logging.getLogger(__name__)

router = APIRouter(tags=["session"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/login", responses={429: {"description": "too many failed logins; Retry-After"}})
def login(body: LoginRequest, request: Request, response: Response, db: Db,
          settings: Settings) -> dict[str, str]:
    address = client_address(request)
    attempt = db.begin_login(body.username, address)
    if attempt.refused:
        wait = math.ceil(attempt.retry_after)
        log.warning("console: login refused, locked: account %r from %s (%d s left)",
                    body.username, address, wait)
        raise HTTPException(429, f"登录失败次数过多，请{_minutes(wait)}分钟后再试",
                            headers={"Retry-After": str(wait)})
    user = db.check_password(body.username, body.password)
    if user is None:
        log.warning("console: failed login for %r from %s", body.username, address)
        if attempt.locked:
            log.warning("console: login locked for %d s (%s) after repeated failures: "
                        "account %r from %s", math.ceil(attempt.lockout_seconds),
                        " and ".join(attempt.locked), body.username, address)
        raise HTTPException(401, "用户名或密码不对")
    db.login_succeeded(attempt)
    session = db.open_session(user)
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict",
                        secure=_secure(request, settings), max_age=int(db.session_seconds))
    response.headers[CSRF_HEADER] = csrf_token(session)
    log.info("console: %r logged in from %s", user.username, address)
    return {"username": user.username, "role": user.role}


@router.post("/logout")
def logout(request: Request, response: Response, db: Db, settings: Settings) -> dict[str, bool]:
    db.close_session(request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict",
                           secure=_secure(request, settings))
    return {"ok": True}


@router.get("/me")
def me(user: Staff, request: Request, response: Response) -> dict[str, str]:
    response.headers[CSRF_HEADER] = csrf_token(request.cookies.get(SESSION_COOKIE, ""))
    return {"username": user.username, "role": user.role}


def _secure(request: Request, settings: RuntimeSettings) -> bool:
    """`Secure` when configured, and whenever the browser came over HTTPS."""
    return settings.console_secure_cookies or request_is_https(request)


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))
