"""Clause-by-clause comparison of two versions of a document, and who cites what changed.

Clauses are matched in three passes: identical text (wherever the clause now sits, so a
renumbered item is recognised), then the same clause key with similar text (a reworded item),
then the most similar remaining clause of the same section (a reworded *and* renumbered item).
What is left over is removed (old side) or added (new side). Text similarity is difflib's
ratio over characters, which suits Chinese without a tokenizer.

The eligibility rules cite clauses by doc_id + clause key (knowledge/data/eligibility_rules.yml,
read through the rules loader). A citation of a removed clause, or of a key that now names a
different clause (renumbering), would make the assistant quote the wrong text: those citers
block a publish (publishing/workflow.py); citers of a reworded clause are listed for review.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.models import Clause

ADDED, REMOVED, CHANGED, RENUMBERED, UNCHANGED = (
    "added", "removed", "changed", "renumbered", "unchanged")
MATCH_MIN_SIMILARITY = 0.5


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def inline_diff(old: str, new: str) -> str:
    """Character-level diff: unchanged text kept, deletions as [-…-], insertions as {+…+}."""
    out = []
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(old[i1:i2])
            continue
        if op in ("delete", "replace"):
            out.append(f"[-{old[i1:i2]}-]")
        if op in ("insert", "replace"):
            out.append(f"{{+{new[j1:j2]}+}}")
    return "".join(out)


def _body(c: Clause) -> str:
    return f"{c.title}\n{c.text}" if c.title else c.text


@dataclass(frozen=True)
class Citer:
    """Something in the eligibility data that cites a clause."""

    who: str  # "rule safeguard_early_warning", "measure green_channel", "industry lexicon"
    clause_key: str
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.who} ({self.where})"


@dataclass(frozen=True)
class ClauseChange:
    kind: str
    old_key: str | None
    new_key: str | None
    title: str
    old_text: str = ""
    new_text: str = ""
    similarity: float = 1.0
    text_diff: str = ""
    citers: tuple[Citer, ...] = ()  # citers of old_key (the key the data uses today)

    def to_json(self) -> dict:
        data = asdict(self)
        data["citers"] = [asdict(c) for c in self.citers]
        data["similarity"] = round(self.similarity, 3)
        return data


@dataclass(frozen=True)
class VersionDiff:
    doc_id: str
    old_version: str
    new_version: str
    changes: list[ClauseChange] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[ClauseChange]:
        return [c for c in self.changes if c.kind in kinds]

    @property
    def counts(self) -> dict[str, int]:
        kinds = (ADDED, REMOVED, CHANGED, RENUMBERED, UNCHANGED)
        return {k: len(self.of_kind(k)) for k in kinds}

    def needs_review(self) -> list[tuple[ClauseChange, Citer]]:
        """Citers of a changed, renumbered or removed clause."""
        return [(c, who) for c in self.of_kind(CHANGED, RENUMBERED, REMOVED) for who in c.citers]

    def to_json(self) -> dict:
        return {
            "doc_id": self.doc_id, "old_version": self.old_version,
            "new_version": self.new_version, "counts": self.counts,
            "changes": [c.to_json() for c in self.changes if c.kind != UNCHANGED],
            "unchanged": [c.new_key for c in self.of_kind(UNCHANGED)],
            "needs_review": [{"citer": str(w), "clause_key": w.clause_key, "kind": c.kind}
                             for c, w in self.needs_review()],
        }


def diff_clauses(doc_id: str, old_version: str, new_version: str, old: list[Clause],
                 new: list[Clause], citers: list[Citer] | None = None) -> VersionDiff:
    by_key: dict[str, list[Citer]] = {}
    for c in citers or []:
        by_key.setdefault(c.clause_key, []).append(c)
    new_pos = {c.clause_key: i for i, c in enumerate(new)}
    pairs: dict[int, int] = {}  # old index -> new index
    taken: set[int] = set()

    def match(i: int, j: int) -> None:
        pairs[i] = j
        taken.add(j)

    # 1. identical text: same key first, then anywhere (renumbered).
    for i, o in enumerate(old):
        j = new_pos.get(o.clause_key)
        if j is not None and _body(new[j]) == _body(o):
            match(i, j)
    for i, o in enumerate(old):
        if i in pairs:
            continue
        for j, n in enumerate(new):
            if j not in taken and _body(n) == _body(o):
                match(i, j)
                break
    # 2. same key, similar text (reworded).
    for i, o in enumerate(old):
        j = new_pos.get(o.clause_key)
        if (i not in pairs and j is not None and j not in taken
                and similarity(_body(o), _body(new[j])) >= MATCH_MIN_SIMILARITY):
            match(i, j)
    # 3. most similar remaining clause of the same section (reworded and renumbered).
    candidates = sorted(
        ((similarity(_body(o), _body(n)), i, j)
         for i, o in enumerate(old) if i not in pairs
         for j, n in enumerate(new) if j not in taken and n.section == o.section),
        reverse=True,
    )
    for score, i, j in candidates:
        if score >= MATCH_MIN_SIMILARITY and i not in pairs and j not in taken:
            match(i, j)

    changes: list[ClauseChange] = []
    for i, o in enumerate(old):
        cited = tuple(by_key.get(o.clause_key, ()))
        if i not in pairs:
            changes.append(ClauseChange(REMOVED, o.clause_key, None, o.title, o.text, "", 0.0,
                                        f"[-{_body(o)}-]", cited))
            continue
        n = new[pairs[i]]
        same = _body(o) == _body(n)
        if same and o.clause_key == n.clause_key:
            kind = UNCHANGED
        elif o.clause_key != n.clause_key:
            kind = RENUMBERED
        else:
            kind = CHANGED
        changes.append(ClauseChange(
            kind, o.clause_key, n.clause_key, n.title, o.text, n.text,
            1.0 if same else similarity(_body(o), _body(n)),
            "" if same else inline_diff(_body(o), _body(n)), cited))
    for j, n in enumerate(new):
        if j not in taken:
            changes.append(ClauseChange(ADDED, None, n.clause_key, n.title, "", n.text, 0.0,
                                        f"{{+{_body(n)}+}}"))
    return VersionDiff(doc_id, old_version, new_version, changes)


def eligibility_citers(data_dir: Path, doc_id: str) -> list[Citer]:
    """Everything in the eligibility data files that cites a clause of `doc_id`."""
    from knowledge.eligibility.engine import LEXICON_FILE, RULES_FILE
    from knowledge.eligibility.industry_classifier import load_lexicon
    from knowledge.eligibility.rules import load_rules

    out: list[Citer] = []
    rules_path = data_dir / RULES_FILE
    if rules_path.exists():
        rules = load_rules(rules_path)
        out += [Citer(who, ref.clause_key, f"{rules_path.name}:{line or '?'}")
                for ref, who, line in rules.clause_refs() if ref.doc_id == doc_id]
    lexicon_path = data_dir / LEXICON_FILE
    if lexicon_path.exists():
        lexicon = load_lexicon(lexicon_path)
        if lexicon.doc_id == doc_id:
            out.append(Citer("industry lexicon", lexicon.clause, lexicon_path.name))
    return out
