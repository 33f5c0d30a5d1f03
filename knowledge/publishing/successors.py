"""Finds, for each article of a repealed text, its successor article in the repealing text.

The Code rewrote the old laws article by article, mostly keeping their words, so the article of
the Code whose wording is closest to an old article (cosine of character-bigram TF-IDF vectors)
is a good first guess. `bin/kb successors --write` stores the guesses in
knowledge/data/successors.yml, where staff review them: a link marked `reviewed: true` (or
corrected by hand) is kept as it is by later runs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import yaml

from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import Clause

SUCCESSORS_FILE = "successors.yml"
# Below this similarity an old article is left without a successor: staff decide.
MIN_SIMILARITY = 0.25
# A second article is linked when it is this close to the best one (an old article split in two).
SECOND_RATIO = 0.9


@dataclass(frozen=True)
class SuccessorGuess:
    old_doc: str
    old_article: int
    new_doc: str
    new_articles: tuple[int, ...]
    similarity: float


def _bigrams(text: str) -> Counter:
    chars = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    return Counter(a + b for a, b in pairwise(chars))


class _Vectors:
    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = clauses
        counts = [_bigrams(c.text) for c in clauses]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(clauses)
        self.idf = {g: math.log((n + 1) / (d + 1)) + 1 for g, d in df.items()}
        self.vectors = [self.vector(c) for c in counts]

    def vector(self, counts: Counter) -> dict[str, float]:
        weights = {g: (1 + math.log(k)) * self.idf.get(g, 1.0) for g, k in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {g: w / norm for g, w in weights.items()}

    def best(self, text: str) -> list[tuple[float, Clause]]:
        q = self.vector(_bigrams(text))
        scored = [(sum(w * v.get(g, 0.0) for g, w in q.items()), c)
                  for v, c in zip(self.vectors, self.clauses, strict=True)]
        return sorted(scored, key=lambda s: -s[0])[:2]


def guess_successors(kb: KnowledgeBase) -> list[SuccessorGuess]:
    """A guess for every article of every repealed document in the store."""
    versions = kb.store.versions()
    guesses: list[SuccessorGuess] = []
    indexes: dict[str, _Vectors] = {}
    for old in versions:
        if not old.repealed_by:
            continue
        new = [v for v in versions if v.doc_id == old.repealed_by]
        if not new:
            continue
        new_version = new[-1].version
        if old.repealed_by not in indexes:
            indexes[old.repealed_by] = _Vectors(
                [c for c in kb.store.clauses(old.repealed_by)
                 if c.version == new_version and c.item_no])
        index = indexes[old.repealed_by]
        for clause in kb.store.clauses(old.doc_id):
            if clause.version != old.version or not clause.item_no:
                continue
            ranked = index.best(clause.text)
            if not ranked or ranked[0][0] < MIN_SIMILARITY:
                continue
            best = ranked[0][0]
            chosen = [c.item_no for s, c in ranked if s >= SECOND_RATIO * best]
            guesses.append(SuccessorGuess(old.doc_id, clause.item_no, old.repealed_by,
                                          tuple(chosen), round(best, 3)))
    return guesses


def merge_into_file(guesses: list[SuccessorGuess], path: Path) -> dict:
    """Writes the guesses, keeping every link staff reviewed or corrected (`reviewed: true`)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = data or {}
    documents = data.setdefault("documents", {})
    for g in guesses:
        entry = documents.setdefault(g.old_doc, {"successor": g.new_doc, "articles": {}})
        entry.setdefault("articles", {})
        held = entry["articles"].get(g.old_article)
        if isinstance(held, dict) and held.get("reviewed"):
            continue
        entry["articles"][g.old_article] = {"to": list(g.new_articles),
                                            "similarity": g.similarity, "reviewed": False}
    header = ("# Successor articles of repealed texts: old doc_id -> article -> articles of the\n"
              "# repealing text. Found by `bin/kb successors --write` (text similarity); staff\n"
              "# check each link and set reviewed: true (a reviewed link is never overwritten).\n")
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True,
                                            width=100), encoding="utf-8")
    return data
