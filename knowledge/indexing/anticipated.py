"""Anticipated questions: how enterprises ask about a clause, kept as editable data.

knowledge/data/anticipated_questions.yml maps doc_id -> clause_key -> questions. Each question
is indexed beside the clause text as its own unit (BM25 and dense) that points back to the
clause's real passages: a question never becomes answer text, it only helps the clause's
sentence to be found. A question may name an `anchor`, a phrase of the one sentence of the
clause that answers it; without one it points at the whole clause and the retriever picks the
clause's sentence that matches the query best. Staff edit the file and rebuild the index
(`bin/kb ingest`); no model is retrained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.models import Passage

log = logging.getLogger(__name__)

PASSAGE = "passage"
# A file's optional top-level `meta:` mapping says who wrote the batch, when, and who reviewed
# it (written_by, written_on, reviewed_by, reviewed_on); it is not a document.
BATCH_META = "meta"
QUESTION = "question"


@dataclass(frozen=True)
class AnticipatedQuestion:
    doc_id: str
    clause_key: str
    question: str
    anchor: str = ""


@dataclass(frozen=True)
class IndexUnit:
    """One thing the indexes score: a passage (with its item title) or an anticipated question.

    `targets` are positions in the generation's passage list; a question pointing at a whole
    clause has every passage of the clause as target.
    """

    kind: str
    text: str
    targets: tuple[int, ...]

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "targets": list(self.targets)}

    @classmethod
    def from_json(cls, data: dict) -> IndexUnit:
        return cls(data["kind"], data["text"], tuple(data["targets"]))


def load_questions(path: Path) -> tuple[list[AnticipatedQuestion], list[str]]:
    """Reads the data file; returns the questions and the problems found (never raises on
    content errors, so one bad entry does not stop a publish)."""
    if not path.exists():
        return [], []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return [], [f"{path.name}: not valid YAML: {exc}"]
    questions: list[AnticipatedQuestion] = []
    problems: list[str] = []
    if not isinstance(data, dict):
        return [], [f"{path.name}: expected doc_id -> clause_key -> questions"]
    for doc_id, clauses in data.items():
        if doc_id == BATCH_META:
            continue  # who wrote the batch and when: for reviewers, not indexed
        if not isinstance(clauses, dict):
            problems.append(f"{doc_id}: expected clause_key -> list of questions")
            continue
        for clause_key, entries in clauses.items():
            for entry in entries or []:
                if isinstance(entry, str):
                    q, anchor = entry, ""
                elif isinstance(entry, dict) and entry.get("question"):
                    q, anchor = str(entry["question"]), str(entry.get("anchor") or "")
                else:
                    problems.append(f"{doc_id} {clause_key}: unreadable entry {entry!r}")
                    continue
                if q.strip():
                    questions.append(AnticipatedQuestion(str(doc_id), str(clause_key),
                                                         q.strip(), anchor.strip()))
    return questions, problems


def build_units(
    passages: list[Passage],
    questions: list[AnticipatedQuestion],
    normalize=lambda s: s,
) -> tuple[list[IndexUnit], list[str]]:
    """Passage units first (unit i is passage i), then one unit per question and version."""
    units = [IndexUnit(PASSAGE, p.index_text(), (i,)) for i, p in enumerate(passages)]
    by_clause: dict[tuple[str, str], dict[str, list[int]]] = {}
    for i, p in enumerate(passages):
        by_clause.setdefault((p.doc_id, p.clause_key), {}).setdefault(p.version, []).append(i)
    problems: list[str] = []
    for q in questions:
        versions = by_clause.get((q.doc_id, q.clause_key))
        if not versions:
            problems.append(f"{q.doc_id} {q.clause_key}: no such clause (question {q.question!r})")
            continue
        for version, members in versions.items():
            targets = tuple(members)
            if q.anchor:
                anchor = normalize(q.anchor)
                pinned = [i for i in members if anchor in normalize(passages[i].text)]
                if pinned:
                    targets = (pinned[0],)
                else:
                    problems.append(f"{q.doc_id}@{version} {q.clause_key}: anchor {q.anchor!r}"
                                    " not in any sentence; the question points at the clause")
            units.append(IndexUnit(QUESTION, q.question, targets))
    for problem in problems:
        log.warning("anticipated questions: %s", problem)
    return units, problems
