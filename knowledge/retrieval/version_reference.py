"""Finds which published document version a question asks about ("2019年版怎么说").

Staff and owners auditing an old decision need the text that applied then, not the version
in force; the answer action uses this to pin the search to that version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.models import DocumentInfo

_YEAR_VERSION = re.compile(r"(\d{4})\s*年?\s*(?:版|版本|的版本)")
_NAMED_VERSION = re.compile(r"版本\s*([0-9A-Za-z.\-]+)")


def requested_versions(question: str, versions: Iterable[DocumentInfo]) -> dict[str, str]:
    """{doc_id: version} for each published version the question names; empty if none."""
    named = set(_YEAR_VERSION.findall(question)) | set(_NAMED_VERSION.findall(question))
    if not named:
        return {}
    # Drafts are never shown to users, even when named.
    return {v.doc_id: v.version for v in versions
            if v.version in named and v.status == "published"}
