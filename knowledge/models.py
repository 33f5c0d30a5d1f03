"""Records that flow between ingestion, the store, the indexes and the actions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LEAD_SECTION = "导语"


class KnowledgeBaseUnavailable(RuntimeError):
    """No index generation has been built: run `bin/kb ingest`. Raised by retrieval and by the
    eligibility engine, and caught by the actions, which then offer a person."""


@dataclass(frozen=True)
class DocumentInfo:
    """What identifies a published document version and how answers cite it."""

    doc_id: str
    version: str
    title: str
    short_title: str = ""
    issuer: str = ""
    effective: str = ""
    source_file: str = ""
    expires: str = ""  # first day the version no longer applies (YYYY-MM-DD); "" = open-ended
    status: str = "published"  # as stored: draft | published (store/versions.py derives more)
    # What kind of text it is and how it relates to the others, from the sources manifest
    # (knowledge/sources/manifest.yml): never from Python.
    doc_type: str = ""  # one of DOC_TYPES; "" for documents uploaded without one
    adopted: str = ""  # adopted / promulgated / last amended (YYYY-MM-DD)
    repealed: str = ""  # first day it no longer applies because another text repealed it
    repealed_by: str = ""  # doc_id of the repealing text
    repeals: tuple[str, ...] = ()  # doc_ids this text repealed
    rests_on: tuple[str, ...] = ()  # "doc_id" or "doc_id#article": the legal basis
    aliases: tuple[str, ...] = ()  # what owners call it: 环保法, 法典, 排污许可条例

    @property
    def name(self) -> str:
        """The short title when there is one: what a phone-sized citation line shows."""
        return self.short_title or self.title


# The kinds of text the knowledge base holds, and how staff read them (console, bin/kb).
DOC_TYPES = {
    "law": "法律",
    "administrative_regulation": "行政法规",
    "ministry_rule": "部门规章",
    "provincial_policy": "省级政策文件",
}
LEGISLATION_TYPES = ("law", "administrative_regulation", "ministry_rule")


@dataclass(frozen=True)
class Clause:
    """A numbered item of a section (or the lead paragraph): the unit a citation names."""

    doc_id: str
    version: str
    clause_key: str  # "工作任务/2"; "导语" for the lead paragraph
    section: str
    item_no: int | None
    title: str
    text: str
    citation: str


@dataclass(frozen=True)
class Passage:
    """A sentence of a clause: the unit retrieval ranks and answers quote."""

    passage_id: str
    doc_id: str
    version: str
    clause_key: str
    section: str
    item_no: int | None
    item_title: str
    sentence_no: int
    text: str
    citation: str
    context: str = ""  # heading words (a law's chapter) the index sees, never quoted

    def index_text(self) -> str:
        """Text the indexes see: the item title (or a law's chapter) gives the text context."""
        lead = " ".join(x for x in (self.context, self.item_title) if x)
        return f"{lead} {self.text}" if lead else self.text


@dataclass(frozen=True)
class ParsedDocument:
    info: DocumentInfo
    headline: str
    clauses: list[Clause]
    passages: list[Passage]
    sections: list[str]
    unplaced_lines: list[str] = field(default_factory=list)
    dropped_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchHit:
    passage: Passage
    score: float
    rank: int
    # The passage's document as the index generation recorded it (title, type, in force).
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def in_force(self) -> bool:
        return bool(self.document.get("in_force", True))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.passage)
        legislation = self.document.get("doc_type") in LEGISLATION_TYPES
        data.update(score=round(self.score, 4), rank=self.rank,
                    doc_title=self.document.get("title", ""),
                    doc_short_title=self.document.get("short_title", ""),
                    doc_type=self.document.get("doc_type", ""),
                    in_force=self.in_force,
                    article_no=self.passage.item_no if legislation else None)
        return data
