"""What routes depend on: the signed-in staff member, admin rights, and the services that
`create_app` keeps on `app.state`.

A route asks for them by type, e.g. `user: Staff, db: Db`. The aliases are module-level on
purpose: with postponed annotations FastAPI resolves them from the route module's globals.
The state accessors are `async def` only so that FastAPI calls them on the event loop rather
than in a worker thread; they just read an attribute.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from assistant.console.conversations import TrackerReader
from assistant.console.delivery import RasaGateway
from assistant.console.publish_jobs import PublishJobs
from assistant.console.users import ConsoleDatabase, StaffUser
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase

SESSION_COOKIE = "console_session"


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


def admin_user(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
    if not user.is_admin:
        raise HTTPException(403, "只有管理员可以上传和发布文件")
    return user


Staff = Annotated[StaffUser, Depends(current_user)]
Admin = Annotated[StaffUser, Depends(admin_user)]
