"""The knowledge base: documents and their versions, diffs between versions, uploading a
draft version (admins) and publishing it as a background job (admins start, staff watch)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel

from assistant.console.api.deps import Admin, Jobs, Kb, Staff
from knowledge.publishing.workflow import add_version, diff_versions, version_rows

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = (".txt", ".docx", ".html", ".htm", ".pdf")

router = APIRouter(prefix="/kb", tags=["knowledge base"])


class PublishRequest(BaseModel):
    doc_id: str
    version: str


@router.get("/documents")
def documents(user: Staff, kb: Kb) -> list[dict[str, Any]]:
    doc_ids = sorted({v.doc_id for v in kb.store.versions()})
    return [{"doc_id": d, "versions": version_rows(kb, d)} for d in doc_ids]


@router.get("/documents/{doc_id}/diff")
def diff(doc_id: str, old: str, new: str, user: Staff, kb: Kb) -> dict[str, Any]:
    try:
        return diff_versions(kb, doc_id, old, new).to_json()
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/upload")
async def upload(
    user: Admin,
    kb: Kb,
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


@router.post("/publish")
def publish(body: PublishRequest, user: Admin, jobs: Jobs) -> dict[str, Any]:
    return jobs.start(body.doc_id, body.version, user.username).to_json()


@router.get("/jobs/{job_id}")
def job(job_id: str, user: Staff, jobs: Jobs) -> dict[str, Any]:
    found = jobs.get(job_id)
    if found is None:
        raise HTTPException(404, "没有这个发布任务")
    return found.to_json()
