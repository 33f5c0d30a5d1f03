"""Adding, comparing and publishing document versions (`bin/kb add / versions / diff / publish`).

`add` parses a file into a **draft**: stored with its clauses and passages, never served.
`diff` compares two stored versions clause by clause and names the eligibility rules (and
catalogue items) that cite what changed. `publish` refuses when the data would cite a clause
the version does not have (or a key that now names another clause); otherwise it builds a new
index generation from the versions in force with the new version counted as published,
switches to it atomically, and only then marks the version published in the store. A failed
build leaves both the live index and the store as they were. Running retrievers (the action
server) load the new generation within `reload_check_seconds`.

Names are checked before anything is read or written, by the one validator both doors use
(`bin/kb add` and the console's upload): `check_doc_id`, `check_version` and, for a file name
that came from a browser, `check_file_name`. An uploaded file is kept only inside the knowledge
base's own directory, at `upload_path(home, doc_id, version, suffix)`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from knowledge.ingestion.ingest import DocumentParser
from knowledge.ingestion.readers import (
    SUPPORTED_SUFFIXES,
    UnsupportedFormat,
    read_document,
    unsupported_reason,
)
from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import DOC_TYPES, DocumentInfo, ParsedDocument
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

UPLOADS_DIR = "uploads"  # under the knowledge base's home
_NAME = {  # what is checked: (pattern, how long at most, English and Chinese name)
    "doc_id": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"), 80, "doc id", "文件编号"),
    "version": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"), 40, "version", "版本"),
}
_BAD_FILE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


class InvalidName(ValueError):
    """A doc id, version or file name that may not be used; `reason` is for staff (Chinese)."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.field, self.reason = field, reason


def _check_name(field: str, value: str) -> str:
    pattern, longest, name, chinese = _NAME[field]
    if not isinstance(value, str) or len(value) > longest or not pattern.fullmatch(value):
        raise InvalidName(
            field,
            f"invalid {name} {str(value)[:100]!r}: use 1 to {longest} letters, digits, '.', '_'"
            " or '-', starting with a letter or digit",
            f"{chinese}只能用字母、数字、点、下划线和横线，以字母或数字开头，最长 {longest} 个字符")
    return value


def check_doc_id(doc_id: str) -> str:
    return _check_name("doc_id", doc_id)


def check_version(version: str) -> str:
    return _check_name("version", version)


def check_file_name(name: str) -> str:
    """A file name as a browser sends it: a bare name with a supported suffix; its suffix."""
    if not name:
        raise InvalidName("file", "no file name", "请选择要上传的文件")
    if (len(name) > 255 or _BAD_FILE_NAME.search(name) or name.strip(". ") == ""
            or name.startswith(".")):
        raise InvalidName("file", f"invalid file name {name[:100]!r}: a bare file name is"
                          " expected, without a path or control characters",
                          "文件名不能包含路径或控制字符")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(f"{name[:100]!r}: unsupported format {suffix or '(none)'}",
                                unsupported_reason())
    return suffix


def upload_path(home: Path, doc_id: str, version: str, suffix: str) -> Path:
    """Where an upload of doc_id@version is kept: `<home>/uploads/<doc_id>/<version><suffix>`."""
    check_doc_id(doc_id)
    check_version(version)
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(f"unsupported format {suffix!r}", unsupported_reason())
    root = (Path(home) / UPLOADS_DIR).resolve()
    path = (root / doc_id / f"{version}{suffix}").resolve()
    if not path.is_relative_to(root):  # cannot happen with checked names; kept as a guard
        raise InvalidName("doc_id", f"{path} is outside {root}", "文件编号不合法")
    return path


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


class AddRefused(ValueError):
    """A draft that may not be added as asked; `reason` is for staff (Chinese)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_add(kb: KnowledgeBase, doc_id: str, version: str, effective: str, *,
              title: str | None = None, expires: str | None = None,
              ) -> tuple[list[DocumentInfo], DocumentInfo | None]:
    """Everything `add_version` checks before it reads the file: names, dates, that the
    version is not published and that a new document has a title. Returns (the stored versions
    of doc_id, the draft of that name if any)."""
    check_doc_id(doc_id)
    check_version(version)
    for value, option, chinese in ((effective, "--effective", "生效日期"),
                                   (expires, "--expires", "失效日期")):
        if value or option == "--effective":
            try:
                check_date(value, option)
            except ValueError as exc:
                raise AddRefused(str(exc), f"{chinese}应为 YYYY-MM-DD 格式的真实日期") from None
    if expires and expires <= effective:
        raise AddRefused(f"--expires {expires} is not after --effective {effective}",
                         "失效日期应晚于生效日期")
    versions = kb.store.versions(doc_id)
    same = next((v for v in versions if v.version == version), None)
    if same is not None and same.status != DRAFT:
        raise AddRefused(f"{doc_id}@{version} is already published; published versions are"
                         " kept unchanged for audit: add the text under a new version name",
                         f"{doc_id} 的 {version} 版已发布，不能覆盖；请用新的版本号上传")
    if not title and not versions:
        raise AddRefused(f"{doc_id} is a new document: give its official title with --title",
                         "这是新文件，请填写正式标题")
    return versions, same


def add_version(kb: KnowledgeBase, path: Path, doc_id: str, version: str, effective: str, *,
                title: str | None = None, expires: str | None = None,
                today: str | date | None = None,
                read: Callable[[Path], str] = read_document,
                source_file: str | None = None) -> AddReport:
    """Parses `path` and stores it as a draft of doc_id@version (a draft may be replaced).

    `read` turns the file into text (`knowledge.ingestion.sandbox.read_document_isolated` for
    untrusted files); `source_file` is what the store records (default: `path`)."""
    versions, same = check_add(kb, doc_id, version, effective, title=title, expires=expires)
    latest = versions[-1] if versions else None
    info = DocumentInfo(
        doc_id=doc_id, version=version, title=title or latest.title,  # type: ignore[union-attr]
        short_title=latest.short_title if latest else "",
        issuer=latest.issuer if latest else "",
        effective=effective, source_file=source_file or str(path), expires=expires or "",
        status=DRAFT,
    )
    parsed = DocumentParser(kb.normalizer).parse(read(Path(path)), info)
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
    everything = kb.store.versions()
    titles = {v.doc_id: v.short_title or v.title for v in everything}
    repealed_by_others = {d.doc_id: [v.doc_id for v in everything if d.doc_id in v.repeals]
                          for d in versions}
    return [
        {"doc_id": v.doc_id, "version": v.version, "status": derived_status(v, versions, today),
         "effective": v.effective, "expires": v.expires, "title": v.title,
         "short_title": v.short_title, "doc_type": v.doc_type,
         "doc_type_name": DOC_TYPES.get(v.doc_type, ""), "issuer": v.issuer,
         "adopted": v.adopted, "repealed": v.repealed,
         "relations": {
             "repeals": [{"doc_id": d, "title": titles.get(d, d)} for d in v.repeals],
             "repealed_by": [{"doc_id": d, "title": titles.get(d, d)}
                             for d in ([v.repealed_by] if v.repealed_by
                                       else repealed_by_others.get(v.doc_id, []))],
             "rests_on": [{"ref": r, "title": titles.get(r.split("#")[0], r)}
                          for r in v.rests_on],
         },
         "source_file": v.source_file,
         "clauses": sum(c.version == v.version for c in clauses)}
        for v in versions
    ]


def document_ids(kb: KnowledgeBase) -> list[str]:
    """Every document in the store, in store order (the opinion, then the related rules)."""
    return list(dict.fromkeys(v.doc_id for v in kb.store.versions()))


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
