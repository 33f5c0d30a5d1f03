"""Adding, comparing and publishing document versions (`bin/kb add / versions / diff / publish`).

`add` parses a file into a **draft**: stored with its clauses and passages, never served.
`diff` compares two stored versions clause by clause and names the eligibility rules (and
catalogue items) that cite what changed. `publish` refuses when the data would cite a clause
the version does not have (or a key that now names another clause); otherwise it builds a new
index generation from the versions in force with the new version counted as published,
switches to it atomically, and only then marks the version published in the store. A failed
build leaves both the live index and the store as they were. Running retrievers (the action
server) load the new generation within `reload_check_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from knowledge.ingestion.clause_parser import ClauseParser
from knowledge.ingestion.readers import read_document
from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import DocumentInfo, ParsedDocument
from knowledge.publishing.diff import (
    REMOVED,
    RENUMBERED,
    Citer,
    VersionDiff,
    diff_clauses,
    eligibility_citers,
)
from knowledge.store.versions import (
    DRAFT,
    PUBLISHED,
    check_date,
    derived_status,
    in_force,
    today_iso,
)


class PublishRefused(RuntimeError):
    """Publishing would leave the eligibility data citing a clause that is not there."""

    def __init__(self, doc_id: str, version: str, problems: list[str]) -> None:
        self.doc_id, self.version, self.problems = doc_id, version, problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"publish {doc_id}@{version} refused: {len(problems)} citation(s) in the eligibility"
            f" data would point at a clause this version does not have:\n{lines}\n"
            "Fix knowledge/data/eligibility_rules.yml (or the lexicon) to cite the new clause"
            " keys, or add a corrected version, then publish again."
        )


@dataclass
class AddReport:
    parsed: ParsedDocument
    replaced_draft: bool
    compared_with: str | None = None
    diff: VersionDiff | None = None

    def to_json(self) -> dict:
        p = self.parsed
        return {
            "doc_id": p.info.doc_id, "version": p.info.version, "status": DRAFT,
            "title": p.info.title, "effective": p.info.effective, "expires": p.info.expires,
            "source_file": p.info.source_file, "sections": p.sections,
            "clauses": len(p.clauses), "passages": len(p.passages),
            "unplaced_lines": p.unplaced_lines, "dropped_lines": p.dropped_lines,
            "replaced_draft": self.replaced_draft, "compared_with": self.compared_with,
            "diff_counts": self.diff.counts if self.diff else None,
        }


@dataclass
class PublishReport:
    doc_id: str
    version: str
    status: str  # derived after publishing: published (in force) or scheduled / superseded
    previous: str | None  # the version in force before
    generation: str
    seconds: float
    review: list[str] = field(default_factory=list)  # citers of reworded clauses

    def to_json(self) -> dict:
        return dict(self.__dict__, seconds=round(self.seconds, 3))


def _find(kb: KnowledgeBase, doc_id: str, version: str) -> tuple[DocumentInfo, list[DocumentInfo]]:
    versions = kb.store.versions(doc_id)
    for info in versions:
        if info.version == version:
            return info, versions
    have = ", ".join(v.version for v in versions) or "none"
    raise LookupError(f"{doc_id} has no version {version!r} (stored: {have});"
                      " `bin/kb add` it first")


def add_version(kb: KnowledgeBase, path: Path, doc_id: str, version: str, effective: str, *,
                title: str | None = None, expires: str | None = None,
                today: str | date | None = None) -> AddReport:
    """Parses `path` and stores it as a draft of doc_id@version (a draft may be replaced)."""
    check_date(effective, "--effective")
    if expires:
        check_date(expires, "--expires")
        if expires <= effective:
            raise ValueError(f"--expires {expires} is not after --effective {effective}")
    versions = kb.store.versions(doc_id)
    same = next((v for v in versions if v.version == version), None)
    if same is not None and same.status != DRAFT:
        raise ValueError(f"{doc_id}@{version} is already published; published versions are"
                         " kept unchanged for audit: add the text under a new version name")
    latest = versions[-1] if versions else None
    if not title and latest is None:
        raise ValueError(f"{doc_id} is a new document: give its official title with --title")
    info = DocumentInfo(
        doc_id=doc_id, version=version, title=title or latest.title,  # type: ignore[union-attr]
        short_title=latest.short_title if latest else "",
        issuer=latest.issuer if latest else "",
        effective=effective, source_file=str(path), expires=expires or "", status=DRAFT,
    )
    parsed = ClauseParser(kb.normalizer).parse(read_document(Path(path)), info)
    kb.store.save(parsed, status=DRAFT)
    current = in_force(versions, today).get(doc_id)
    report = AddReport(parsed, replaced_draft=same is not None)
    if current is not None and current.version != version:
        report.compared_with = current.version
        report.diff = diff_versions(kb, doc_id, current.version, version)
    return report


def version_rows(kb: KnowledgeBase, doc_id: str,
                 today: str | date | None = None) -> list[dict]:
    versions = kb.store.versions(doc_id)
    if not versions:
        raise LookupError(f"no document {doc_id!r} in the knowledge base")
    clauses = kb.store.clauses(doc_id)
    return [
        {"doc_id": v.doc_id, "version": v.version, "status": derived_status(v, versions, today),
         "effective": v.effective, "expires": v.expires, "title": v.title,
         "source_file": v.source_file,
         "clauses": sum(c.version == v.version for c in clauses)}
        for v in versions
    ]


def diff_versions(kb: KnowledgeBase, doc_id: str, old: str, new: str) -> VersionDiff:
    _find(kb, doc_id, old)
    _find(kb, doc_id, new)
    clauses = kb.store.clauses(doc_id)
    return diff_clauses(
        doc_id, old, new,
        [c for c in clauses if c.version == old], [c for c in clauses if c.version == new],
        eligibility_citers(kb.settings.data_dir, doc_id),
    )


def blocking_citations(kb: KnowledgeBase, doc_id: str, version: str,
                       today: str | date | None = None) -> tuple[list[str], list[str]]:
    """(problems that refuse a publish, citers of reworded clauses to review)."""
    citers = eligibility_citers(kb.settings.data_dir, doc_id)
    target = {c.clause_key: c for c in kb.store.clauses(doc_id) if c.version == version}
    current = in_force(kb.store.versions(doc_id), today).get(doc_id)
    diff = (diff_versions(kb, doc_id, current.version, version)
            if current is not None and current.version != version else None)
    problems: list[str] = []
    flagged: set[Citer] = set()
    if diff is not None:
        for change in diff.of_kind(REMOVED, RENUMBERED):
            for who in change.citers:
                flagged.add(who)
                if change.kind == REMOVED:
                    problems.append(f"{who} cites {who.clause_key}（{change.title}）, which"
                                    f" {version} removes")
                else:
                    now = target.get(who.clause_key)
                    here = f"{who.clause_key} now names “{now.title}”" if now else (
                        f"{who.clause_key} no longer exists")
                    problems.append(f"{who} cites {who.clause_key}（{change.title}）, which"
                                    f" {version} moves to {change.new_key}; {here}")
    for who in citers:
        if who not in flagged and who.clause_key not in target:
            problems.append(f"{who} cites {who.clause_key}, which {version} does not have")
    review = ([f"{who} cites {c.old_key}（{c.title}）, reworded in {version}: check its text"
               for c, who in diff.needs_review() if c.kind == "changed"] if diff else [])
    return problems, review


def publish_version(kb: KnowledgeBase, doc_id: str, version: str, *,
                    today: str | date | None = None,
                    progress: Callable[[str], None] | None = None) -> PublishReport:
    started = time.perf_counter()
    info, versions = _find(kb, doc_id, version)
    day = today_iso(today)
    previous = in_force(versions, day).get(doc_id)
    problems, review = blocking_citations(kb, doc_id, version, day)
    if problems:
        raise PublishRefused(doc_id, version, problems)
    passages = kb.served_passages(day, extra_published=(doc_id, version))
    generation = kb.rebuild_index(passages, progress=progress)  # raises: nothing changed
    if info.status != PUBLISHED:
        kb.store.set_status(doc_id, version, PUBLISHED)
    status = derived_status(_find(kb, doc_id, version)[0], kb.store.versions(doc_id), day)
    return PublishReport(doc_id, version, status, previous.version if previous else None,
                         generation, time.perf_counter() - started, review)
