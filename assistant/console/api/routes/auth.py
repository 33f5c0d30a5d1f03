"""Sessions: log in (sets the HTTP-only session cookie), log out, and who is logged in."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from assistant.console.api.deps import SESSION_COOKIE, Db, Staff

log = logging.getLogger(__name__)

router = APIRouter(tags=["session"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/login")
def login(body: LoginRequest, response: Response, db: Db) -> dict[str, str]:
    user = db.check_password(body.username, body.password)
    if user is None:
        log.warning("console: failed login for %r", body.username)
        raise HTTPException(401, "用户名或密码不对")
    response.set_cookie(SESSION_COOKIE, db.open_session(user), httponly=True,
                        samesite="strict", max_age=int(db.session_seconds))
    return {"username": user.username, "role": user.role}


@router.post("/logout")
def logout(request: Request, response: Response, db: Db) -> dict[str, bool]:
    db.close_session(request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE)
    return {"ok": True}


@router.get("/me")
def me(user: Staff) -> dict[str, str]:
    return {"username": user.username, "role": user.role}
