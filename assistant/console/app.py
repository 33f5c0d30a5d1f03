"""The console's HTTP API and page (FastAPI; OpenAPI at /api/openapi.json).

Everything here translates between HTTP and the modules that do the work: `users`
(accounts, sessions), `conversations` (the tracker store), `delivery` (Rasa and WeChat),
`publish_jobs` and `knowledge.publishing.workflow` (documents and versions).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from assistant.console.conversations import Conversation, TrackerReader, open_items
from assistant.console.delivery import DeliveryError, RasaGateway
from assistant.console.publish_jobs import PublishJobs
from assistant.console.readiness import console_checks
from assistant.console.users import ConsoleDatabase, StaffUser
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.workflow import add_version, diff_versions, version_rows
from observability.checks import readiness

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "console_session"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = (".txt", ".docx", ".html", ".htm", ".pdf")
MAX_CHAT_CHARS = 2000
T = TypeVar("T")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TextRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_CHAT_CHARS)


class PublishRequest(BaseModel):
    doc_id: str
    version: str


def current_user(request: Request) -> StaffUser:
    user = request.app.state.db.session_user(request.cookies.get(SESSION_COOKIE, ""))
    if user is None:
        raise HTTPException(401, "请先登录（或登录已过期）")
    return user


def admin_user(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
    if not user.is_admin:
        raise HTTPException(403, "只有管理员可以上传和发布文件")
    return user


# Module level: FastAPI resolves these (postponed) annotations from the module's globals.
Staff = Annotated[StaffUser, Depends(current_user)]
Admin = Annotated[StaffUser, Depends(admin_user)]


def create_app(settings: RuntimeSettings, kb: KnowledgeBase, db: ConsoleDatabase,
               gateway: RasaGateway) -> FastAPI:
    tracker = (TrackerReader.postgres(settings.scale.postgres_dsn) if settings.scaled
               else TrackerReader.sqlite(settings.tracker_db))
    jobs = PublishJobs(kb)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.close()
        jobs.shutdown()

    app = FastAPI(title="政策助手工作台 API", version="1.0", lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  description="Staff console: conversations, review queue, takeover, "
                              "documents and publishing. Session cookie from /api/login.")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.state.db = db
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "users": db.has_users(), "rasa": settings.rasa_url}

    @app.get("/api/ready", tags=["service"])
    async def ready(response: Response) -> dict[str, Any]:
        """200 when the console database answers and Rasa is reachable, else 503 and why."""
        ok, body = readiness(await console_checks(db, settings.rasa_url))
        response.status_code = 200 if ok else 503
        return body

    # -- sessions --------------------------------------------------------------------------
    @app.post("/api/login", tags=["session"])
    def login(body: LoginRequest, response: Response) -> dict[str, str]:
        user = db.check_password(body.username, body.password)
        if user is None:
            log.warning("console: failed login for %r", body.username)
            raise HTTPException(401, "用户名或密码不对")
        response.set_cookie(SESSION_COOKIE, db.open_session(user), httponly=True,
                            samesite="strict", max_age=int(db.session_seconds))
        return {"username": user.username, "role": user.role}

    @app.post("/api/logout", tags=["session"])
    def logout(request: Request, response: Response) -> dict[str, bool]:
        db.close_session(request.cookies.get(SESSION_COOKIE, ""))
        response.delete_cookie(SESSION_COOKIE)
        return {"ok": True}

    @app.get("/api/me", tags=["session"])
    def me(user: Staff) -> dict[str, str]:
        return {"username": user.username, "role": user.role}

    # -- chat as a user --------------------------------------------------------------------
    @app.post("/api/chat", tags=["chat"])
    async def chat(body: TextRequest, user: Staff) -> dict[str, Any]:
        sender = f"console-{user.username}"
        try:
            replies = await gateway.chat(sender, body.text)
        except httpx.HTTPError as exc:
            log.error("console: chat via Rasa failed: %s", exc)
            raise HTTPException(502, "助手暂时连不上，请稍后再试") from exc
        return {"sender_id": sender, "replies": replies}

    # -- conversations and review queue ----------------------------------------------------
    @app.get("/api/conversations", tags=["conversations"])
    def conversations(user: Staff) -> list[dict[str, Any]]:
        resolved = db.resolved_keys()
        return [c.summary(len(open_items(c, resolved))) for c in tracker.conversations()]

    @app.get("/api/conversations/{sender_id}", tags=["conversations"])
    def conversation(sender_id: str, user: Staff) -> dict[str, Any]:
        data = _existing(sender_id).to_json()
        resolved = db.resolved_keys()
        for item in data["items"]:
            item["resolved"] = (sender_id, item["key"]) in resolved
        return data

    @app.get("/api/queue", tags=["conversations"])
    def queue(user: Staff) -> list[dict[str, Any]]:
        resolved = db.resolved_keys()
        items = [{**i.__dict__, "paused": c.paused}
                 for c in tracker.conversations() for i in open_items(c, resolved)]
        return sorted(items, key=lambda i: i["timestamp"], reverse=True)

    @app.post("/api/queue/{sender_id}/{key}/resolve", tags=["conversations"])
    def resolve(sender_id: str, key: str, user: Staff) -> dict[str, bool]:
        db.resolve(sender_id, key, user)
        return {"ok": True}

    @app.post("/api/conversations/{sender_id}/takeover", tags=["takeover"])
    async def take_over(sender_id: str, user: Staff) -> dict[str, bool]:
        _existing(sender_id)
        await _delivering(gateway.take_over(sender_id, user.username))
        return {"paused": True}

    @app.post("/api/conversations/{sender_id}/release", tags=["takeover"])
    async def release(sender_id: str, user: Staff) -> dict[str, bool]:
        _existing(sender_id)
        await _delivering(gateway.release(sender_id, user.username))
        return {"paused": False}

    @app.post("/api/conversations/{sender_id}/reply", tags=["takeover"])
    async def reply(sender_id: str, body: TextRequest, user: Staff) -> dict[str, str]:
        conv = _existing(sender_id)
        via = await _delivering(gateway.reply(sender_id, conv.channel, body.text, user.username))
        return {"delivered_via": via}

    def _existing(sender_id: str) -> Conversation:
        conv = tracker.conversation(sender_id)
        if conv is None:
            raise HTTPException(404, "没有这个会话")
        return conv

    async def _delivering(step: Awaitable[T]) -> T:
        """Runs a Rasa/WeChat step; its failure reaches the page as a 502 with the reason."""
        try:
            return await step
        except DeliveryError as exc:
            raise HTTPException(502, str(exc)) from exc

    # -- knowledge base --------------------------------------------------------------------
    @app.get("/api/kb/documents", tags=["knowledge base"])
    def documents(user: Staff) -> list[dict[str, Any]]:
        doc_ids = sorted({v.doc_id for v in kb.store.versions()})
        return [{"doc_id": d, "versions": version_rows(kb, d)} for d in doc_ids]

    @app.get("/api/kb/documents/{doc_id}/diff", tags=["knowledge base"])
    def diff(doc_id: str, old: str, new: str, user: Staff) -> dict[str, Any]:
        try:
            return diff_versions(kb, doc_id, old, new).to_json()
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.post("/api/kb/upload", tags=["knowledge base"])
    async def upload(
        user: Admin,
        file: Annotated[UploadFile, File()],
        doc_id: Annotated[str, Form(min_length=1)],
        version: Annotated[str, Form(min_length=1)],
        effective: Annotated[str, Form(min_length=10, max_length=10)],
        expires: Annotated[str, Form()] = "",
        title: Annotated[str, Form()] = "",
    ) -> dict[str, Any]:
        suffix = Path(file.filename or "").suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise HTTPException(400, f"只支持 {'、'.join(UPLOAD_SUFFIXES)} 文件")
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, "文件超过 20 MB")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{doc_id}-{version}{suffix}"
            path.write_bytes(content)
            try:
                report = add_version(kb, path, doc_id, version, effective,
                                     title=title or None, expires=expires or None)
            except (ValueError, LookupError, OSError) as exc:
                log.warning("console: upload of %s by %s refused: %s", file.filename,
                            user.username, exc)
                raise HTTPException(400, f"文件无法导入：{exc}") from exc
        log.info("console: %s added draft %s@%s", user.username, doc_id, version)
        return report.to_json()

    @app.post("/api/kb/publish", tags=["knowledge base"])
    def publish(body: PublishRequest, user: Admin) -> dict[str, Any]:
        return jobs.start(body.doc_id, body.version, user.username).to_json()

    @app.get("/api/kb/jobs/{job_id}", tags=["knowledge base"])
    def job(job_id: str, user: Staff) -> dict[str, Any]:
        found = jobs.get(job_id)
        if found is None:
            raise HTTPException(404, "没有这个发布任务")
        return found.to_json()

    return app
