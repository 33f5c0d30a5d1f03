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
- `static/`: the page itself

The routes only translate between HTTP and the modules that do the work: `users` (accounts,
sessions), `conversations` (the tracker store), `delivery` (Rasa and WeChat), `publish_jobs`
and `knowledge.publishing.workflow` (documents and versions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from assistant.console.api.routes import auth, chat, conversations, knowledge_base, ops
from assistant.console.conversations import TrackerReader
from assistant.console.delivery import RasaGateway
from assistant.console.publish_jobs import PublishJobs
from assistant.console.users import ConsoleDatabase
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api"
ROUTERS = (ops.router, auth.router, chat.router, conversations.router, knowledge_base.router)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.gateway.close()
    app.state.jobs.shutdown()


def create_app(settings: RuntimeSettings, kb: KnowledgeBase, db: ConsoleDatabase,
               gateway: RasaGateway) -> FastAPI:
    app = FastAPI(title="政策助手工作台 API", version="1.0", lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  description="Staff console: conversations, review queue, takeover, "
                              "documents and publishing. Session cookie from /api/login.")
    app.state.settings = settings
    app.state.kb = kb
    app.state.db = db
    app.state.gateway = gateway
    app.state.tracker = (TrackerReader.postgres(settings.scale.postgres_dsn) if settings.scaled
                         else TrackerReader.sqlite(settings.tracker_db))
    app.state.jobs = PublishJobs(kb)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
