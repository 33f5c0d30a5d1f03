"""Which version of each document is in force, and how a version is named in citations.

A stored version is a `draft` (parsed and kept, never served) or `published`. Among the
published versions of a document, the one **in force** on a day is the latest by effective
date whose effective date is on or before that day and which has not expired (`expires` is
the first day it no longer applies). Other published versions are `superseded` (an in-force
version is newer), `scheduled` (effective later), `expired`, or `repealed` (another text
repealed the document from its `repealed` day: the manifest's `repeals:`); all stay in the
store and can be searched and quoted explicitly for audit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from knowledge.models import DocumentInfo

DRAFT = "draft"
PUBLISHED = "published"
SUPERSEDED = "superseded"
SCHEDULED = "scheduled"
EXPIRED = "expired"
REPEALED = "repealed"
# How staff read a status (console, bin/kb versions).
STATUS_NAMES = {DRAFT: "草稿", PUBLISHED: "现行有效", SUPERSEDED: "已被新版本替代",
                SCHEDULED: "尚未施行", EXPIRED: "已失效", REPEALED: "已废止"}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^(19|20)\d{2}$")


def today_iso(today: str | date | None = None) -> str:
    if today is None:
        return date.today().isoformat()
    return today.isoformat() if isinstance(today, date) else str(today)


def check_date(value: str, what: str) -> str:
    """Validates YYYY-MM-DD (and that it is a real day); returns it unchanged."""
    try:
        if _DATE.match(value or ""):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise ValueError(f"{what} must be a real date as YYYY-MM-DD, got {value!r}")


def ends(info: DocumentInfo) -> str:
    """The first day the version no longer applies: its expiry or its repeal, whichever is
    first ("" when neither is set)."""
    return min((d for d in (info.expires, info.repealed) if d), default="")


def _applies(info: DocumentInfo, today: str) -> bool:
    end = ends(info)
    return (info.effective or "") <= today and not (end and end <= today)


def in_force(versions: Iterable[DocumentInfo], today: str | date | None = None,
             extra_published: tuple[str, str] | None = None) -> dict[str, DocumentInfo]:
    """doc_id -> the version in force. `extra_published`: treat this (doc_id, version) as
    published (what a publish would serve, computed before anything is changed)."""
    day = today_iso(today)
    best: dict[str, DocumentInfo] = {}
    for info in versions:
        published = info.status == PUBLISHED or (info.doc_id, info.version) == extra_published
        if not published or not _applies(info, day):
            continue
        held = best.get(info.doc_id)
        if held is None or (info.effective, info.version) >= (held.effective, held.version):
            best[info.doc_id] = info
    return best


def derived_status(info: DocumentInfo, versions: Iterable[DocumentInfo],
                   today: str | date | None = None) -> str:
    """draft | published (in force) | superseded | scheduled | expired | repealed."""
    if info.status == DRAFT:
        return DRAFT
    day = today_iso(today)
    if info.repealed and info.repealed <= day:
        return REPEALED
    if info.expires and info.expires <= day:
        return EXPIRED
    if (info.effective or "") > day:
        return SCHEDULED
    current = in_force(versions, day).get(info.doc_id)
    if current is not None and current.version == info.version:
        return PUBLISHED
    return SUPERSEDED


def version_label(version: str) -> str:
    """How citations name a version: 2019 -> 2019年版, other names -> 版本 v2."""
    return f"{version}年版" if _YEAR.match(version) else f"版本 {version}"


def cited_with_version(citation: str, version: str) -> str:
    """The citation with its version appended: 《…》工作任务 第2条（2019年版）."""
    return f"{citation}（{version_label(version)}）"
