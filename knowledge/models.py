"""Records that flow between ingestion, the store, the indexes and the actions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LEAD_SECTION = "导语"


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

    def index_text(self) -> str:
        """Text the lexical index sees: the item title gives the sentence its context."""
        return f"{self.item_title} {self.text}" if self.item_title else self.text


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.passage)
        data.update(score=round(self.score, 4), rank=self.rank)
        return data
