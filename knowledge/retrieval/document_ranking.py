"""Document-aware ranking: which document's passages a question should see first.

Multiplies the fused scores of a generation's passages by a prior: the provincial opinion's
passages when the question names none of the law cues (its own topics), the laws' liability
chapters when it asks about consequences, and a document the question names ("法典里…").
Cues and sections are data (knowledge/data/ranking.yml); the strengths are settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from knowledge.models import LEGISLATION_TYPES, Passage

RANKING_FILE = "ranking.yml"


@dataclass(frozen=True)
class RankingCues:
    """Every word list of ranking.yml by key: the document cues below, and the question kinds
    and passage marks the learned ranker's features read (retrieval/candidates.py)."""

    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> RankingCues:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls({str(key): tuple(str(w) for w in values or () if str(w).strip())
                    for key, values in data.items() if isinstance(values, list)})

    def words(self, key: str) -> tuple[str, ...]:
        return self.lists.get(key, ())

    def asks(self, key: str, query: str) -> bool:
        return any(c in query for c in self.words(key))

    @property
    def liability_sections(self) -> tuple[str, ...]:
        return self.words("liability_sections")

    def asks_about_law(self, query: str) -> bool:
        return self.asks("law_cues", query)

    def asks_about_penalty(self, query: str) -> bool:
        return self.asks("penalty_cues", query)


@dataclass(frozen=True)
class DocumentMasks:
    """Per-passage masks of a generation, computed once when it is loaded."""

    policy: np.ndarray  # passages of a text that is not legislation (the opinion, uploads)
    liability: np.ndarray  # passages in a liability chapter of a law
    doc_ids: np.ndarray  # doc_id per passage, for a named document

    @classmethod
    def of(cls, passages: list[Passage], documents: dict[str, dict],
           cues: RankingCues) -> DocumentMasks:
        def legislation(p: Passage) -> bool:
            return documents.get(p.doc_id, {}).get("doc_type") in LEGISLATION_TYPES

        policy = np.fromiter((not legislation(p) for p in passages), bool, len(passages))
        liability = np.fromiter(
            (legislation(p) and any(s in p.section for s in cues.liability_sections)
             for p in passages), bool, len(passages))
        return cls(policy, liability, np.asarray([p.doc_id for p in passages], dtype=object))

    def prior(self, *, about_law: bool, about_penalty: bool, named_doc: str | None,
              policy_boost: float, liability_boost: float, named_boost: float) -> np.ndarray:
        prior = np.ones(len(self.policy))
        if not about_law and policy_boost != 1.0:
            prior[self.policy] *= policy_boost
        if about_penalty and liability_boost != 1.0:
            prior[self.liability] *= liability_boost
        if named_doc and named_boost != 1.0:
            prior[self.doc_ids == named_doc] *= named_boost
        return prior
