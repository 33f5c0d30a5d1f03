"""What routes depend on: the signed-in staff member, admin rights, the services that
`create_app` keeps on `app.state`, and the CSRF check that `create_app` runs before every
state-changing request (`csrf_refusal`).

A route asks for them by type, e.g. `user: Staff, db: Db`. The aliases are module-level on
purpose: with postponed annotations FastAPI resolves them from the route module's globals.
The state accessors are `async def` only so that FastAPI calls them on the event loop rather
than in a worker thread; they just read an attribute.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from assistant.console.conversations import TrackerReader
from assistant.console.delivery import RasaGateway
from assistant.console.publish_jobs import PublishJobs
from assistant.console.users import ConsoleDatabase, StaffUser, csrf_token
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase

SESSION_COOKIE = "console_session"
CSRF_HEADER = "X-CSRF-Token"  # sent by the page with every state-changing request
LOGIN_PATH = "/api/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FOREIGN_ORIGIN = "请求来源不被允许"
BAD_CSRF_TOKEN = "安全校验未通过，请刷新页面后重试"


async def console_db(request: Request) -> ConsoleDatabase:
    return request.app.state.db


async def tracker_reader(request: Request) -> TrackerReader:
    return request.app.state.tracker


async def rasa_gateway(request: Request) -> RasaGateway:
    return request.app.state.gateway


async def knowledge_base(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def publish_jobs(request: Request) -> PublishJobs:
    return request.app.state.jobs


async def runtime_settings(request: Request) -> RuntimeSettings:
    return request.app.state.settings


Db = Annotated[ConsoleDatabase, Depends(console_db)]
Tracker = Annotated[TrackerReader, Depends(tracker_reader)]
Gateway = Annotated[RasaGateway, Depends(rasa_gateway)]
Kb = Annotated[KnowledgeBase, Depends(knowledge_base)]
Jobs = Annotated[PublishJobs, Depends(publish_jobs)]
Settings = Annotated[RuntimeSettings, Depends(runtime_settings)]


def current_user(request: Request, db: Db) -> StaffUser:
    """The staff member whose session cookie came with the request; 401 without one."""
    user = db.session_user(request.cookies.get(SESSION_COOKIE, ""))
    if user is None:
        raise HTTPException(401, "请先登录（或登录已过期）")
    return user


def optional_user(request: Request, db: Db) -> StaffUser | None:
    """The signed-in staff member, or None: for routes that tell staff more than others."""
    return db.session_user(request.cookies.get(SESSION_COOKIE, ""))


def admin_user(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
    if not user.is_admin:
        raise HTTPException(403, "只有管理员可以上传和发布文件")
    return user


Staff = Annotated[StaffUser, Depends(current_user)]
MaybeStaff = Annotated[StaffUser | None, Depends(optional_user)]
Admin = Annotated[StaffUser, Depends(admin_user)]


def client_address(request: HTTPConnection) -> str:
    """The client's address: the peer, or what a proxy uvicorn trusts (FORWARDED_ALLOW_IPS,
    loopback by default) put in X-Forwarded-For."""
    return request.client.host if request.client else "unknown"


def request_is_https(request: HTTPConnection) -> bool:
    return request.scope.get("scheme") == "https"


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lower-case, without a default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(request: HTTPConnection, settings: RuntimeSettings) -> set[str]:
    """The console's own origin, as the browser addressed it (Host header and scheme), and
    the configured extra ones (`CONSOLE_ALLOWED_ORIGINS`)."""
    scheme = "https" if request_is_https(request) else "http"
    own = _origin(f"{scheme}://{request.headers.get('host', '')}")
    extra = (_origin(o) for o in settings.console_allowed_origins.replace(",", " ").split())
    return {o for o in (own, *extra) if o}


def csrf_refusal(request: HTTPConnection, settings: RuntimeSettings) -> str | None:
    """Why a state-changing request must be refused (403), or None to let it through.

    - Its `Origin` (else its `Referer`) must be an allowed origin; "null" never is. Browsers
      send `Origin` with every POST, cross-origin ones included; a request with neither header
      comes from a program, not from a page on another site.
    - With a session cookie (every route but login needs one), the `X-CSRF-Token` header must
      be that session's token, which the page got from `/api/login` or `/api/me`.
    """
    source = request.headers.get("origin")
    if source is None:
        source = request.headers.get("referer")
    if source is not None and _origin(source) not in allowed_origins(request, settings):
        return FOREIGN_ORIGIN
    session = request.cookies.get(SESSION_COOKIE, "")
    if session and request.scope.get("path") != LOGIN_PATH:
        sent = request.headers.get(CSRF_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(sent, csrf_token(session).encode("latin-1")):
            return BAD_CSRF_TOKEN
    return None
