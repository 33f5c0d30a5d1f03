"""The console's FastAPI application: the staff page and its HTTP API under /api (OpenAPI at
/api/openapi.json).

`create_app` only assembles; what lives where:

- `api/deps.py`: the signed-in staff member (session cookie), admin rights, and accessors for
  the services kept on `app.state` (database, tracker reader, Rasa gateway, knowledge base,
  publish jobs, settings)
- `api/routes/ops.py`: health and readiness
- `api/routes/auth.py`: login, logout, who is logged in
- `api/routes/chat.py`: staff chatting with the assistant as a user
- `api/routes/conversations.py`: conversations, the review queue, takeover, release, replies
- `api/routes/knowledge_base.py`: documents, versions, upload, diff, publish jobs
- `api/schemas.py`: request bodies more than one router accepts
- `static/`: the page itself (no inline script or style: the CSP allows neither)

Around every route, static file and error: `CsrfGuard` refuses state-changing requests from
another origin or without the session's CSRF token (`deps.csrf_refusal`), and `SecurityHeaders`,
outermost, adds the Content-Security-Policy and the other security headers, and
`Cache-Control: no-store` to every API response (sessions, conversations: nothing a browser
or proxy should keep). `api/errors.py` makes every error a client gets a short Chinese
`detail` without internal causes.

The routes only translate between HTTP and the modules that do the work: `users` (accounts,
sessions), `conversations` (the tracker store), `delivery` (Rasa and WeChat), `publish_jobs`
and `knowledge.publishing.workflow` (documents and versions).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.console.api import errors
from assistant.console.api.deps import SAFE_METHODS, client_address, csrf_refusal
from assistant.console.api.routes import auth, chat, conversations, knowledge_base, ops
from assistant.console.conversations import TrackerReader
from assistant.console.delivery import RasaGateway
from assistant.console.publish_jobs import PublishJobs
from assistant.console.users import ConsoleDatabase
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api"
ROUTERS = (ops.router, auth.router, chat.router, conversations.router, knowledge_base.router)
SECURITY_HEADERS = {
    # Scripts, styles and connections from the console itself only; no inline code, no
    # plug-ins, no <base>, forms post only here, and no page may frame the console.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
API_HEADERS = {"Cache-Control": "no-store"}  # accounts, conversations: never kept in a cache


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response of the app it wraps, and `API_HEADERS`
    to those under `API_PREFIX`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        api = scope["path"].startswith(f"{API_PREFIX}/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (SECURITY_HEADERS | (API_HEADERS if api else {})).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


class CsrfGuard:
    """Answers 403 to a state-changing request that `deps.csrf_refusal` refuses, before any
    route (or upload body parsing) sees it; covers every router, present and future."""

    def __init__(self, app: ASGIApp, settings: RuntimeSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = HTTPConnection(scope)
            reason = csrf_refusal(request, self.settings)
            if reason is not None:
                log.warning("console: refused %s %s from %s: %s (Origin %r, Referer %r)",
                            scope["method"], scope["path"], client_address(request), reason,
                            request.headers.get("origin"), request.headers.get("referer"))
                await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Answers 413 to a request body larger than `max_bytes` before it is read into memory or
    spooled to disk (Starlette would otherwise store a whole multipart upload first): by its
    Content-Length when it has one, else by counting what arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        declared = HTTPConnection(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen, started = 0, False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, tracked_send)
        except _BodyTooLarge:
            if started:  # too late for a 413: the route already answered
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("console: refused %s %s: body over %d bytes", scope["method"],
                    scope["path"], self.max_bytes)
        limit = self.max_bytes // 2**20
        await JSONResponse({"detail": f"请求内容超过 {limit} MB"}, status_code=413)(
            scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class ConsoleApp(FastAPI):
    """FastAPI with `SecurityHeaders` outside everything, Starlette's ServerErrorMiddleware
    included, so that a 500 carries the headers as well."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.gateway.close()
    app.state.jobs.shutdown()


def create_app(settings: RuntimeSettings, kb: KnowledgeBase, db: ConsoleDatabase,
               gateway: RasaGateway) -> FastAPI:
    app = ConsoleApp(title="政策助手工作台 API", version="1.0", lifespan=lifespan,
                     openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                     description="Staff console: conversations, review queue, takeover, "
                                 "documents and publishing. Session cookie from /api/login; "
                                 "every POST sends the session's token (the X-CSRF-Token "
                                 "header of /api/login and /api/me) back in X-CSRF-Token.")
    app.state.settings = settings
    app.state.kb = kb
    app.state.db = db
    app.state.gateway = gateway
    app.state.tracker = (TrackerReader.postgres(settings.scale.postgres_dsn) if settings.scaled
                         else TrackerReader.sqlite(settings.tracker_db))
    app.state.jobs = PublishJobs(kb)
    errors.install(app)
    app.add_middleware(CsrfGuard, settings=settings)
    # The largest body any route takes: an upload and its multipart framing.
    app.add_middleware(BodySizeLimit, max_bytes=knowledge_base.MAX_UPLOAD_BYTES + 2**20)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
