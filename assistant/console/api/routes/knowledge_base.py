"""The knowledge base: documents and their versions, diffs between versions, uploading a
draft version (admins) and publishing it as a background job (admins start, staff watch).

An upload is checked before anything is written: doc id and version against the one pattern
`bin/kb add` uses too, the file name (a bare name with a supported suffix), the dates, that
the version is not published, the size. The file is then kept only under the knowledge base's
home (`uploads/.incoming/` while it is read, `uploads/<doc_id>/<version><suffix>` once
stored) and read in a worker process with time and memory limits
(`knowledge.ingestion.sandbox`), off the event loop. Every refusal is a 4xx with a short
Chinese `detail` that names no server path; the cause is logged for whoever runs the console.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant.console.api.deps import Admin, Jobs, Kb, Staff
from knowledge.ingestion.readers import SUPPORTED_SUFFIXES, UnsupportedFormat
from knowledge.ingestion.sandbox import read_document_isolated
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.workflow import (
    UPLOADS_DIR,
    AddRefused,
    AddReport,
    InvalidName,
    add_version,
    check_add,
    check_file_name,
    diff_versions,
    document_ids,
    upload_path,
    version_rows,
)

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_TITLE_CHARS = 200
# A refused file's kind (knowledge.ingestion.readers / sandbox) -> HTTP status
STATUS_OF_KIND = {"unsupported": 415, "too_large": 413, "unreadable": 422, "timeout": 422,
                  "busy": 503}

router = APIRouter(prefix="/kb", tags=["knowledge base"])
_store_lock = threading.Lock()  # one draft stored (and its file moved into place) at a time


class PublishRequest(BaseModel):
    doc_id: str
    version: str


@router.get("/documents")
def documents(user: Staff, kb: Kb) -> list[dict[str, Any]]:
    return [{"doc_id": d, "versions": version_rows(kb, d)} for d in document_ids(kb)]


@router.get("/documents/{doc_id}/diff")
def diff(doc_id: str, old: str, new: str, user: Staff, kb: Kb) -> dict[str, Any]:
    try:
        return diff_versions(kb, doc_id, old, new).to_json()
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def _refuse(status: int, detail: str, user: str, name: str, cause: object) -> HTTPException:
    log.warning("console: upload of %r by %s refused (%d): %s", name[:100], user, status, cause)
    return HTTPException(status, detail)


@router.post("/upload")
async def upload(
    user: Admin,
    kb: Kb,
    # Every field is optional to FastAPI, so that a missing one gets the same Chinese message
    # as a malformed one (the page sends them all): file, doc_id, version, effective needed.
    file: Annotated[UploadFile | None, File()] = None,
    doc_id: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    effective: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    name = (file.filename or "") if file is not None else ""
    try:
        suffix = check_file_name(name)
        if len(title) > MAX_TITLE_CHARS:
            raise AddRefused(f"title of {len(title)} characters",
                             f"标题最长 {MAX_TITLE_CHARS} 个字")
        check_add(kb, doc_id, version, effective, title=title or None, expires=expires or None)
    except (InvalidName, AddRefused, UnsupportedFormat) as exc:
        # An unsupported suffix stays a 400, as clients of this API have always seen.
        raise _refuse(400, exc.reason, user.username, name, exc) from None
    assert file is not None  # check_file_name refused a missing file
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise _refuse(413, f"文件超过 {MAX_UPLOAD_BYTES // 2**20} MB", user.username, name,
                      f"more than {MAX_UPLOAD_BYTES} bytes")
    if not content or content.isspace():
        raise _refuse(400, "文件是空的", user.username, name, "empty file")
    try:
        report = await run_in_threadpool(_add, kb, content, suffix, doc_id, version, effective,
                                         expires, title)
    except UnsupportedFormat as exc:
        raise _refuse(STATUS_OF_KIND.get(exc.kind, 422), exc.reason, user.username, name,
                      exc) from None
    except (InvalidName, AddRefused) as exc:  # changed between the check and the store
        raise _refuse(400, exc.reason, user.username, name, exc) from None
    except ValueError as exc:
        raise _refuse(422, "文件内容无法解析为条款，请检查文件", user.username, name,
                      exc) from None
    except Exception:
        log.exception("console: upload of %r by %s failed", name[:100], user.username)
        raise HTTPException(500, "导入失败，请联系系统管理员查看控制台日志") from None
    log.info("console: %s added draft %s@%s from %r", user.username, doc_id, version, name[:100])
    return report.to_json()


def _add(kb: KnowledgeBase, content: bytes, suffix: str, doc_id: str, version: str,
         effective: str, expires: str, title: str) -> AddReport:
    """In a worker thread: keep the file under the KB home, read it in the sandbox, store it."""
    home = kb.settings.home
    final = upload_path(home, doc_id, version, suffix)
    incoming_dir = home / UPLOADS_DIR / ".incoming"
    incoming_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=suffix, dir=incoming_dir)
    incoming = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        text = read_document_isolated(incoming)
        with _store_lock:
            report = add_version(kb, incoming, doc_id, version, effective,
                                 title=title or None, expires=expires or None,
                                 read=lambda _: text,
                                 source_file=str(final.relative_to(home.resolve())))
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(incoming, final)
            for other in SUPPORTED_SUFFIXES:  # the draft's earlier upload in another format
                if other != suffix:
                    final.with_name(f"{version}{other}").unlink(missing_ok=True)
        return report
    finally:
        incoming.unlink(missing_ok=True)


@router.post("/publish")
def publish(body: PublishRequest, user: Admin, jobs: Jobs) -> dict[str, Any]:
    try:
        return jobs.start(body.doc_id, body.version, user.username).to_json()
    except InvalidName as exc:
        raise HTTPException(400, exc.reason) from None


@router.get("/jobs/{job_id}")
def job(job_id: str, user: Staff, jobs: Jobs) -> dict[str, Any]:
    found = jobs.get(job_id)
    if found is None:
        raise HTTPException(404, "没有这个发布任务")
    return found.to_json()
