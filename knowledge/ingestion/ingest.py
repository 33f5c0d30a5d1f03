"""Reads the sources manifest, cleans and parses each document, and saves it to the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.ingestion.clause_parser import ClauseParser
from knowledge.models import DocumentInfo, ParsedDocument
from knowledge.store.clause_store import ClauseStore

log = logging.getLogger(__name__)

_REQUIRED = ("doc_id", "version", "file", "title")


@dataclass(frozen=True)
class SourceEntry:
    info: DocumentInfo
    path: Path


def read_manifest(path: Path) -> list[SourceEntry]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = []
    for n, doc in enumerate(data.get("documents") or [], start=1):
        missing = [k for k in _REQUIRED if not doc.get(k)]
        if missing:
            raise ValueError(f"{path}: document #{n} lacks {', '.join(missing)}")
        info = DocumentInfo(
            doc_id=str(doc["doc_id"]),
            version=str(doc["version"]),
            title=str(doc["title"]),
            short_title=str(doc.get("short_title") or ""),
            issuer=str(doc.get("issuer") or ""),
            effective=str(doc.get("effective") or ""),
            source_file=str(doc["file"]),
            expires=str(doc.get("expires") or ""),
        )
        entries.append(SourceEntry(info, path.parent / doc["file"]))
    return entries


class Ingestor:
    def __init__(self, store: ClauseStore, parser: ClauseParser) -> None:
        self.store = store
        self.parser = parser

    def ingest(self, entry: SourceEntry) -> ParsedDocument:
        raw = entry.path.read_text(encoding="utf-8")
        parsed = self.parser.parse(raw, entry.info)
        for line in parsed.unplaced_lines:
            log.warning("%s@%s: could not place line: %s", entry.info.doc_id,
                        entry.info.version, line[:60])
        self.store.save(parsed)
        return parsed
