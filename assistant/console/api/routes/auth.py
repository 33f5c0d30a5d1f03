"""Sessions: log in (sets the HTTP-only session cookie and hands out the session's CSRF token),
log out, who is logged in (the token again, for a reloaded page), and the account's own
safety: change one's password (the current one is needed; every other session ends) and sign
out every other session.

Logins are throttled per source and account, per source and per account (`users.LoginThrottle`):
while a lockout applies, attempts get 429 with `Retry-After`, right password or not. A wrong
current password when changing it counts as a failed login. Every login, failure, lockout,
password change and sign-out of other sessions is logged (warning or info) with the account
and client address, never a password.
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
from assistant.console.users import MIN_PASSWORD_CHARS, ConsoleDatabase, LoginAttempt, csrf_token
from assistant.settings import RuntimeSettings

log = logging.getLogger(__name__)

router = APIRouter(tags=["session"])


WRONG_LOGIN = "用户名或密码不对"
TOO_MANY_FAILURES = "登录失败次数过多，请{minutes}分钟后再试"
WRONG_CURRENT_PASSWORD = "当前密码不对"
NEW_PASSWORD_TOO_SHORT = f"新密码至少需要 {MIN_PASSWORD_CHARS} 个字符"
THROTTLED = {429: {"description": "too many failed logins; Retry-After"}}


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)  # length checked in Chinese below


@router.post("/login", responses=THROTTLED)
def login(body: LoginRequest, request: Request, response: Response, db: Db,
          settings: Settings) -> dict[str, str]:
    address = client_address(request)
    attempt = _begin(db, body.username, address, "login")
    user = db.check_password(body.username, body.password)
    if user is None:
        _failed(attempt, "failed login")
        raise HTTPException(401, WRONG_LOGIN)
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


@router.post("/password", responses={**THROTTLED, 403: {"description": "wrong current password"}})
def change_password(body: PasswordChange, user: Staff, request: Request,
                    db: Db) -> dict[str, int]:
    """Changes the signed-in account's password; every other session of it ends (whoever
    learnt the old password may hold one), this one goes on."""
    if len(body.new_password) < MIN_PASSWORD_CHARS:
        raise HTTPException(400, NEW_PASSWORD_TOO_SHORT)
    address = client_address(request)
    attempt = _begin(db, user.username, address, "password change")
    if db.check_password(user.username, body.current_password) is None:
        _failed(attempt, "wrong current password in a password change")
        raise HTTPException(403, WRONG_CURRENT_PASSWORD)
    db.login_succeeded(attempt)
    ended = db.change_password(user.username, body.new_password,
                               keep_session=request.cookies.get(SESSION_COOKIE, ""))
    log.warning("console: %r changed their password from %s; %d other sessions signed out",
                user.username, address, ended)
    return {"signed_out": ended}


@router.post("/logout-others")
def logout_others(user: Staff, request: Request, db: Db) -> dict[str, int]:
    """Ends every session of the signed-in account but this one (a lost phone, a shared PC)."""
    ended = db.close_other_sessions(user.username, request.cookies.get(SESSION_COOKIE, ""))
    log.warning("console: %r signed out %d other sessions from %s", user.username, ended,
                client_address(request))
    return {"signed_out": ended}


def _begin(db: ConsoleDatabase, username: str, address: str, what: str) -> LoginAttempt:
    """Counts a password check as a failed login until it succeeds; 429 while locked."""
    attempt = db.begin_login(username, address)
    if attempt.refused:
        wait = math.ceil(attempt.retry_after)
        log.warning("console: %s refused, locked (%s): account %r from %s (%d s left)",
                    what, attempt.refused_by, username, address, wait)
        raise HTTPException(429, TOO_MANY_FAILURES.format(minutes=_minutes(wait)),
                            headers={"Retry-After": str(wait)})
    return attempt


def _failed(attempt: LoginAttempt, what: str) -> None:
    log.warning("console: %s for %r from %s", what, attempt.username, attempt.address)
    if attempt.locked:
        log.warning("console: login locked for %d s (%s) after repeated failures: "
                    "account %r from %s", math.ceil(attempt.lockout_seconds),
                    " and ".join(attempt.locked), attempt.username, attempt.address)


def _secure(request: Request, settings: RuntimeSettings) -> bool:
    """`Secure` when configured, and whenever the browser came over HTTPS."""
    return settings.console_secure_cookies or request_is_https(request)


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))
