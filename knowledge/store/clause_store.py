"""SQLite store of documents, clauses and passages: the source of truth behind every index.

Indexes are derived from it and can be rebuilt at any time; citations and clause texts
(which the rules engine quotes) are read from here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path

from knowledge.models import Clause, DocumentInfo, ParsedDocument, Passage
from knowledge.paths import private_dir, private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT NOT NULL, version TEXT NOT NULL, title TEXT NOT NULL, short_title TEXT,
    issuer TEXT, effective TEXT, source_file TEXT, headline TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    expires TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'published',
    published_at TEXT,
    doc_type TEXT NOT NULL DEFAULT '', adopted TEXT NOT NULL DEFAULT '',
    repealed TEXT NOT NULL DEFAULT '', repealed_by TEXT NOT NULL DEFAULT '',
    relations TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (doc_id, version)
);
CREATE TABLE IF NOT EXISTS clauses (
    doc_id TEXT NOT NULL, version TEXT NOT NULL, clause_key TEXT NOT NULL, section TEXT NOT NULL,
    item_no INTEGER, title TEXT NOT NULL, text TEXT NOT NULL, citation TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (doc_id, version, clause_key),
    FOREIGN KEY (doc_id, version) REFERENCES documents (doc_id, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS passages (
    passage_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, version TEXT NOT NULL,
    clause_key TEXT NOT NULL, section TEXT NOT NULL, item_no INTEGER, item_title TEXT NOT NULL,
    sentence_no INTEGER NOT NULL, text TEXT NOT NULL, citation TEXT NOT NULL,
    position INTEGER NOT NULL, context TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (doc_id, version) REFERENCES documents (doc_id, version) ON DELETE CASCADE
);
"""

# Columns added to stores created before them; existing rows were published by ingest.
_ADDED_COLUMNS = {
    "documents": {
        "expires": "TEXT NOT NULL DEFAULT ''",
        "status": "TEXT NOT NULL DEFAULT 'published'",
        "published_at": "TEXT",
        "doc_type": "TEXT NOT NULL DEFAULT ''",
        "adopted": "TEXT NOT NULL DEFAULT ''",
        "repealed": "TEXT NOT NULL DEFAULT ''",
        "repealed_by": "TEXT NOT NULL DEFAULT ''",
        "relations": "TEXT NOT NULL DEFAULT '{}'",
    },
    "passages": {"context": "TEXT NOT NULL DEFAULT ''"},
}
_DOC_COLUMNS = ("doc_id, version, title, short_title, issuer, effective, source_file,"
                " expires, status, doc_type, adopted, repealed, repealed_by, relations")
_RELATIONS = ("repeals", "rests_on", "aliases")  # list-valued metadata, kept as JSON
_PASSAGE_COLUMNS = ("passage_id, doc_id, version, clause_key, section, item_no, item_title,"
                    " sentence_no, text, citation, context")


class DocumentNotStorable(ValueError):
    """A parsed document the store refuses (e.g. two clauses with one key); nothing is kept."""


def _document(row: sqlite3.Row) -> DocumentInfo:
    data = dict(row)
    relations = json.loads(data.pop("relations") or "{}")
    return DocumentInfo(**data, **{k: tuple(relations.get(k) or ()) for k in _RELATIONS})


class ClauseStore:
    """Opens a short-lived connection per operation so several processes can share the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # Drafts and every version: the owner's only (`make ingest` runs without a umask).
        private_dir(self.path.parent)
        private_file(self.path)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():  # stores made by older releases
                have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                for column, ddl in columns.items():
                    if column not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def save(self, parsed: ParsedDocument, status: str | None = None) -> None:
        """Replaces one document version as a whole, in one transaction.

        `status` overrides the info's (ingest publishes; `bin/kb add` stores a draft). A document
        the store cannot hold raises `DocumentNotStorable` naming the clause, and the previous
        state of that version is kept (the transaction rolls back).
        """
        info = parsed.info
        status = status or info.status or "published"
        _check_keys(parsed)
        try:
            self._save(parsed, status)
        except sqlite3.IntegrityError as exc:
            raise DocumentNotStorable(
                f"{info.doc_id}@{info.version}: cannot be stored ({exc}); nothing was changed"
            ) from exc

    def _save(self, parsed: ParsedDocument, status: str) -> None:
        info = parsed.info
        relations = json.dumps({k: list(getattr(info, k)) for k in _RELATIONS},
                               ensure_ascii=False)
        with self._connect() as db:
            db.execute(
                "DELETE FROM documents WHERE doc_id = ? AND version = ?",
                (info.doc_id, info.version),
            )
            db.execute(
                "INSERT INTO documents (doc_id, version, title, short_title, issuer, effective,"
                " source_file, headline, expires, status, published_at, doc_type, adopted,"
                " repealed, repealed_by, relations)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " CASE WHEN ? = 'published' THEN datetime('now') END, ?, ?, ?, ?, ?)",
                (info.doc_id, info.version, info.title, info.short_title, info.issuer,
                 info.effective, info.source_file, parsed.headline, info.expires or "", status,
                 status, info.doc_type, info.adopted, info.repealed, info.repealed_by,
                 relations),
            )
            db.executemany(
                "INSERT INTO clauses VALUES (:doc_id, :version, :clause_key, :section, :item_no,"
                " :title, :text, :citation, :position)",
                [asdict(c) | {"position": i} for i, c in enumerate(parsed.clauses)],
            )
            db.executemany(
                f"INSERT INTO passages ({_PASSAGE_COLUMNS}, position) VALUES (:passage_id,"
                " :doc_id, :version, :clause_key, :section, :item_no, :item_title, :sentence_no,"
                " :text, :citation, :context, :position)",
                [asdict(p) | {"position": i} for i, p in enumerate(parsed.passages)],
            )

    def documents(self, today: str | None = None) -> list[DocumentInfo]:
        """Published versions already effective, per document in order, the one in force last.

        Drafts and versions effective after `today` (default: today's date) are left out;
        expired versions come first, so readers that take the last version of a document
        (the eligibility engine) get the version in force.
        """
        today = today or date.today().isoformat()
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents"
                " WHERE status != 'draft' AND (effective IS NULL OR effective <= ?)"
                " ORDER BY doc_id, CASE WHEN (expires != '' AND expires <= ?)"
                " OR (repealed != '' AND repealed <= ?) THEN 0 ELSE 1 END, effective, version",
                (today, today, today),
            ).fetchall()
        return [_document(r) for r in rows]

    def versions(self, doc_id: str | None = None) -> list[DocumentInfo]:
        """Every stored version, drafts and future ones included, by document and date."""
        query = f"SELECT {_DOC_COLUMNS} FROM documents"
        args: tuple[str, ...] = ()
        if doc_id is not None:
            query, args = query + " WHERE doc_id = ?", (doc_id,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY doc_id, effective, version", args).fetchall()
        return [_document(r) for r in rows]

    def set_status(self, doc_id: str, version: str, status: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE documents SET status = ?,"
                " published_at = CASE WHEN ? = 'published' THEN datetime('now') END"
                " WHERE doc_id = ? AND version = ?",
                (status, status, doc_id, version),
            )

    def passages(self, versions: Iterable[tuple[str, str]] | None = None) -> list[Passage]:
        """All stored passages, or those of the given (doc_id, version) pairs."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages ORDER BY doc_id, version, position"
            ).fetchall()
        passages = [Passage(**dict(r)) for r in rows]
        if versions is None:
            return passages
        wanted = set(versions)
        return [p for p in passages if (p.doc_id, p.version) in wanted]

    def clauses(self, doc_id: str | None = None) -> list[Clause]:
        query = (
            "SELECT doc_id, version, clause_key, section, item_no, title, text, citation"
            " FROM clauses"
        )
        args: tuple[str, ...] = ()
        if doc_id is not None:
            query, args = query + " WHERE doc_id = ?", (doc_id,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY doc_id, version, position", args).fetchall()
        return [Clause(**dict(r)) for r in rows]

    def clause(self, doc_id: str, version: str, clause_key: str) -> Clause | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT doc_id, version, clause_key, section, item_no, title, text, citation"
                " FROM clauses WHERE doc_id = ? AND version = ? AND clause_key = ?",
                (doc_id, version, clause_key),
            ).fetchone()
        return Clause(**dict(row)) if row else None


def _check_keys(parsed: ParsedDocument) -> None:
    """Two clauses (or passages) with one key would break the primary key half-way through a
    save: refuse the document first, naming the place, so staff can mend the text."""
    seen: dict[str, str] = {}
    for clause in parsed.clauses:
        if clause.clause_key in seen:
            raise DocumentNotStorable(
                f"{parsed.info.doc_id}@{parsed.info.version}: {clause.citation} appears twice"
                f" (clause {clause.clause_key!r}; first under {seen[clause.clause_key] or '正文'},"
                f" again under {clause.section or '正文'}); nothing was stored")
        seen[clause.clause_key] = clause.section
    ids = [p.passage_id for p in parsed.passages]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DocumentNotStorable(f"{parsed.info.doc_id}@{parsed.info.version}: passage {dup}"
                                  " appears twice; nothing was stored")
