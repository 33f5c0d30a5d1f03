"""Clause-by-clause comparison of two versions of a document, and who cites what changed.

Clauses are matched in three passes: identical text (wherever the clause now sits, so a
renumbered item is recognised), then the same clause key with similar text (a reworded item),
then the most similar remaining clause of the same section (a reworded *and* renumbered item).
What is left over is removed (old side) or added (new side). Text similarity is difflib's
ratio over characters, which suits Chinese without a tokenizer.

difflib's work grows with how often each character occurs in both texts (for each character of
one, it visits every occurrence in the other): two drafts of long clauses written in a handful
of distinct characters once took minutes of CPU. So every diff runs on a `DiffBudget` counted
in those character pairs: a comparison that would exceed it is done in linear time instead
(similarity from shared character bigrams; the inline diff keeps the common start and end and
marks only the span between as replaced, `coarse`), and the diff says it was `limited`. A long
clause with a small edit still gets an exact diff, because only the differing span is compared.

The eligibility rules cite clauses by doc_id + clause key (knowledge/data/eligibility_rules.yml,
read through the rules loader). A citation of a removed clause, or of a key that now names a
different clause (renumbering), would make the assistant quote the wrong text: those citers
block a publish (publishing/workflow.py); citers of a reworded clause are listed for review.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.models import Clause

ADDED, REMOVED, CHANGED, RENUMBERED, UNCHANGED = (
    "added", "removed", "changed", "renumbered", "unchanged")
MATCH_MIN_SIMILARITY = 0.5
# Character pairs difflib may visit (see the module docstring): measured at 0.2-0.4 us a pair,
# so one comparison stays under half a second and a whole diff around two seconds at most.
MAX_PAIRS_PER_COMPARISON = 1_000_000
MAX_PAIRS_PER_DIFF = 5_000_000
# Unmatched clause pairs of one section compared when looking for reworded-and-renumbered
# items; a document rewritten more widely than this shows the rest as removed and added.
MAX_CANDIDATE_PAIRS = 2_500


@dataclass
class DiffBudget:
    """The work one diff may do, in character pairs difflib visits; shared by all its
    comparisons. `limited` records that some comparison was done the cheap way."""

    per_comparison: int = MAX_PAIRS_PER_COMPARISON
    total: int = MAX_PAIRS_PER_DIFF
    spent: int = 0
    limited: bool = False
    _counts: dict[str, Counter[str]] = field(default_factory=dict, repr=False)
    _bigrams: dict[str, Counter[str]] = field(default_factory=dict, repr=False)

    def _count(self, text: str) -> Counter[str]:
        counts = self._counts.get(text)
        if counts is None:
            counts = self._counts[text] = Counter(text)
        return counts

    def cost(self, a: str, b: str) -> int:
        """Pairs difflib's inner loop visits comparing `a` with `b` (linear to compute)."""
        ca, cb = self._count(a), self._count(b)
        if len(ca) > len(cb):
            ca, cb = cb, ca
        return sum(n * cb.get(ch, 0) for ch, n in ca.items())

    def allows(self, a: str, b: str) -> bool:
        """Charges the comparison of `a` with `b` if it fits; False (and `limited`) if not."""
        cost = self.cost(a, b)
        if cost > self.per_comparison or self.spent + cost > self.total:
            self.limited = True
            return False
        self.spent += cost
        return True

    def estimate(self, a: str, b: str) -> float:
        """Dice coefficient of the character bigrams: linear time, close enough to difflib's
        ratio for the matching decision (a reworded clause keeps most of its bigrams)."""
        ba, bb = self._bigram_counts(a), self._bigram_counts(b)
        total = ba.total() + bb.total()
        return 2 * (ba & bb).total() / total if total else 1.0

    def _bigram_counts(self, text: str) -> Counter[str]:
        counts = self._bigrams.get(text)
        if counts is None:
            grams = (text[i:i + 2] for i in range(len(text) - 1)) if len(text) > 1 else text
            counts = self._bigrams[text] = Counter(grams)
        return counts


def similarity(a: str, b: str, budget: DiffBudget | None = None) -> float:
    """difflib's ratio within the budget (a fresh one by default), else the bigram estimate."""
    budget = budget if budget is not None else DiffBudget()
    if budget.allows(a, b):
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return budget.estimate(a, b)


def _common_ends(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (not overlapping it)."""
    shortest = min(len(old), len(new))
    start = 0
    while start < shortest and old[start] == new[start]:
        start += 1
    end = 0
    while end < shortest - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return start, end


def _replaced(old: str, new: str) -> str:
    return (f"[-{old}-]" if old else "") + (f"{{+{new}+}}" if new else "")


def bounded_inline_diff(old: str, new: str, budget: DiffBudget | None = None,
                        ) -> tuple[str, bool]:
    """Character-level diff: unchanged text kept, deletions as [-…-], insertions as {+…+}.
    Only the span between the common start and end is compared; when comparing it would
    exceed the budget it is marked as replaced whole. Returns (diff, coarse)."""
    budget = budget if budget is not None else DiffBudget()
    start, end = _common_ends(old, new)
    head, tail = old[:start], old[len(old) - end:]
    old_mid, new_mid = old[start:len(old) - end], new[start:len(new) - end]
    if not old_mid or not new_mid or not budget.allows(old_mid, new_mid):
        return head + _replaced(old_mid, new_mid) + tail, bool(old_mid and new_mid)
    out = [head]
    sm = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(old_mid[i1:i2])
        else:
            out.append(_replaced(old_mid[i1:i2], new_mid[j1:j2]))
    out.append(tail)
    return "".join(out), False


def inline_diff(old: str, new: str, budget: DiffBudget | None = None) -> str:
    """The diff text of `bounded_inline_diff`."""
    return bounded_inline_diff(old, new, budget)[0]


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
    coarse: bool = False  # too long to compare character by character: one span replaced

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
    limited: bool = False  # the work budget cut some comparison short (DiffBudget)

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
            "new_version": self.new_version, "counts": self.counts, "limited": self.limited,
            "changes": [c.to_json() for c in self.changes if c.kind != UNCHANGED],
            "unchanged": [c.new_key for c in self.of_kind(UNCHANGED)],
            "needs_review": [{"citer": str(w), "clause_key": w.clause_key, "kind": c.kind}
                             for c, w in self.needs_review()],
        }


def diff_clauses(doc_id: str, old_version: str, new_version: str, old: list[Clause],
                 new: list[Clause], citers: list[Citer] | None = None,
                 budget: DiffBudget | None = None) -> VersionDiff:
    """Matches the clauses of two versions and describes each change, within `budget`
    (a fresh `DiffBudget` by default)."""
    budget = budget if budget is not None else DiffBudget()
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
    new_by_body: dict[str, list[int]] = {}
    for j, n in enumerate(new):
        new_by_body.setdefault(_body(n), []).append(j)
    for i, o in enumerate(old):
        if i in pairs:
            continue
        j = next((j for j in new_by_body.get(_body(o), ()) if j not in taken), None)
        if j is not None:
            match(i, j)
    # 2. same key, similar text (reworded).
    for i, o in enumerate(old):
        j = new_pos.get(o.clause_key)
        if (i not in pairs and j is not None and j not in taken
                and similarity(_body(o), _body(new[j]), budget) >= MATCH_MIN_SIMILARITY):
            match(i, j)
    # 3. most similar remaining clause of the same section (reworded and renumbered).
    open_pairs = [(i, j) for i, o in enumerate(old) if i not in pairs
                  for j, n in enumerate(new) if j not in taken and n.section == o.section]
    if len(open_pairs) > MAX_CANDIDATE_PAIRS:
        budget.limited = True
        open_pairs = []
    candidates = sorted(
        ((similarity(_body(old[i]), _body(new[j]), budget), i, j) for i, j in open_pairs),
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
        text_diff, coarse = ("", False) if same else bounded_inline_diff(
            _body(o), _body(n), budget)
        changes.append(ClauseChange(
            kind, o.clause_key, n.clause_key, n.title, o.text, n.text,
            1.0 if same else similarity(_body(o), _body(n), budget), text_diff, cited, coarse))
    for j, n in enumerate(new):
        if j not in taken:
            changes.append(ClauseChange(ADDED, None, n.clause_key, n.title, "", n.text, 0.0,
                                        f"{{+{_body(n)}+}}"))
    return VersionDiff(doc_id, old_version, new_version, changes, budget.limited)


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
