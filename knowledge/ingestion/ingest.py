"""Reads the sources manifest, cleans and parses each document, and saves it to the store.

The manifest (knowledge/sources/manifest.yml) is where a document's metadata lives: type,
issuing body, dates, the files it is assembled from, and its relations. A repeal is recorded
once, on the repealing text (`repeals:`, e.g. the Code's last article); the repealed texts get
`repealed_by` and their repeal date (the repealing text's effective date) from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from knowledge.ingestion.clause_parser import ClauseParser
from knowledge.ingestion.legal_parser import LegalTextParser, looks_like_legislation
from knowledge.ingestion.readers import read_document
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import DOC_TYPES, LEGISLATION_TYPES, DocumentInfo, ParsedDocument
from knowledge.store.clause_store import ClauseStore
from knowledge.store.versions import check_date

log = logging.getLogger(__name__)

_REQUIRED = ("doc_id", "version", "title")
_DATES = ("effective", "adopted", "expires", "repealed")
_LISTS = ("repeals", "rests_on", "aliases")


@dataclass(frozen=True)
class SourceEntry:
    info: DocumentInfo
    paths: tuple[Path, ...]  # read in this order and joined: one document

    @property
    def path(self) -> Path:
        return self.paths[0]


def _entry(doc: dict, n: int, manifest: Path) -> SourceEntry:
    where = f"{manifest}: document #{n} ({doc.get('doc_id') or '?'})"
    files = doc.get("files") or ([doc["file"]] if doc.get("file") else [])
    missing = [k for k in _REQUIRED if not doc.get(k)] + ([] if files else ["file"])
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    doc_type = str(doc.get("type") or "")
    if doc_type and doc_type not in DOC_TYPES:
        raise ValueError(f"{where}: type {doc_type!r} is not one of {', '.join(DOC_TYPES)}")
    for key in _DATES:
        if doc.get(key):
            check_date(str(doc[key]), f"{where}: {key}")
    lists = {}
    for key in _LISTS:
        value = doc.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{where}: {key} must be a list of names")
        lists[key] = tuple(value)
    info = DocumentInfo(
        doc_id=str(doc["doc_id"]), version=str(doc["version"]), title=str(doc["title"]),
        short_title=str(doc.get("short_title") or ""), issuer=str(doc.get("issuer") or ""),
        effective=str(doc.get("effective") or ""), source_file=", ".join(map(str, files)),
        expires=str(doc.get("expires") or ""), doc_type=doc_type,
        adopted=str(doc.get("adopted") or ""), repealed=str(doc.get("repealed") or ""),
        repealed_by=str(doc.get("repealed_by") or ""), **lists,
    )
    return SourceEntry(info, tuple(manifest.parent / f for f in files))


def read_manifest(path: Path, *more: Path) -> list[SourceEntry]:
    """Every document of the manifest(s), with repeal relations completed and checked.

    A repealed text must be in the same set as the text that repeals it; a `rests_on` target
    that is not loaded (the related rules switched off) is kept as data and only logged."""
    entries = []
    for manifest in (Path(path), *map(Path, more)):
        data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
        entries += [_entry(doc, n, manifest)
                    for n, doc in enumerate(data.get("documents") or [], 1)]
    by_id = {e.info.doc_id: e for e in entries}
    for entry in entries:
        for target in entry.info.repeals:
            if target not in by_id:
                raise ValueError(f"{path}: {entry.info.doc_id} repeals {target!r}, which is not"
                                 " in the manifest")
        missing = [r for r in entry.info.rests_on if r.split("#")[0] not in by_id]
        if missing:
            log.info("%s rests on %s, not loaded", entry.info.doc_id, ", ".join(missing))
    completed = []
    for entry in entries:
        info = entry.info
        repealers = [e.info for e in entries if info.doc_id in e.info.repeals]
        if len(repealers) > 1:
            raise ValueError(f"{path}: {info.doc_id} is repealed by more than one document")
        if repealers:
            by = repealers[0]
            if info.repealed_by and info.repealed_by != by.doc_id:
                raise ValueError(f"{path}: {info.doc_id} says repealed_by {info.repealed_by},"
                                 f" but {by.doc_id} repeals it")
            info = replace(info, repealed_by=by.doc_id, repealed=info.repealed or by.effective)
        elif info.repealed_by:
            raise ValueError(f"{path}: {info.doc_id} says repealed_by {info.repealed_by}, whose"
                             " entry does not list it under repeals")
        completed.append(replace(entry, info=info))
    return completed


class DocumentParser:
    """Picks the parser a text needs: legislation (第一条 … by 编/章/节) or a policy notice."""

    def __init__(self, normalizer: TextNormalizer) -> None:
        self.legal = LegalTextParser(normalizer)
        self.notice = ClauseParser(normalizer)

    def parse(self, text: str, info: DocumentInfo) -> ParsedDocument:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        legal = (info.doc_type in LEGISLATION_TYPES if info.doc_type
                 else looks_like_legislation(lines))
        return self.legal.parse(lines, info) if legal else self.notice.parse(text, info)


def read_entry(entry: SourceEntry) -> str:
    """The text of a document assembled from its files, in manifest order."""
    return "\n".join(read_document(p) for p in entry.paths)


class Ingestor:
    def __init__(self, store: ClauseStore, parser: DocumentParser) -> None:
        self.store = store
        self.parser = parser

    def ingest(self, entry: SourceEntry) -> ParsedDocument:
        parsed = self.parser.parse(read_entry(entry), entry.info)
        for line in parsed.unplaced_lines:
            log.warning("%s@%s: could not place line: %s", entry.info.doc_id,
                        entry.info.version, line[:80])
        self.store.save(parsed)
        return parsed
