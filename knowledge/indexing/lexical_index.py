"""BM25 over jieba tokens, via bm25s, saved to and loaded from a directory."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import bm25s
import numpy as np

# bm25s logs every index build at DEBUG through the root handler; that is noise.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """Scores every indexed unit for a tokenised query; the caller ranks and fuses."""

    def __init__(self, bm25: bm25s.BM25) -> None:
        self._bm25 = bm25
        self._vocab: dict[str, int] = bm25.vocab_dict
        indptr = np.asarray(bm25.scores["indptr"])
        self._doc_freq = np.diff(indptr)  # eager CSC index: one column per token

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> LexicalIndex:
        bm25 = bm25s.BM25()
        bm25.index([list(t) for t in corpus_tokens], show_progress=False)
        return cls(bm25)

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory), show_progress=False))

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def known(self, tokens: Sequence[str]) -> list[str]:
        return [t for t in tokens if t in self._vocab]

    def idf(self, token: str) -> float:
        """BM25 (Lucene) idf; a token the index never saw gets the idf of a one-off word."""
        df = int(self._doc_freq[self._vocab[token]]) if token in self._vocab else 0
        n = self.size
        return math.log(1.0 + (n - max(df, 1) + 0.5) / (max(df, 1) + 0.5))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        known = self.known(tokens)
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def weighted_scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """BM25 where each query token's contribution is multiplied by its weight.

        Tokens are added in sorted order: float32 sums depend on the order, and the weights
        come partly from sets, whose order changes with every interpreter (hash seed); the same
        question must score the same everywhere (the learned ranker is trained on these)."""
        data = self._bm25.scores["data"]
        indices = self._bm25.scores["indices"]
        indptr = self._bm25.scores["indptr"]
        total = np.zeros(self.size, dtype=np.float32)
        for token, weight in sorted(weights.items()):
            tid = self._vocab.get(token)
            if tid is None or weight <= 0:
                continue
            start, end = indptr[tid], indptr[tid + 1]
            total[indices[start:end]] += weight * data[start:end]  # unique within a column
        return total

    def contains(self, token: str, unit: int) -> bool:
        """Whether the indexed unit contains the token (read from the token's postings)."""
        tid = self._vocab.get(token)
        if tid is None:
            return False
        indptr = self._bm25.scores["indptr"]
        postings = self._bm25.scores["indices"][indptr[tid]:indptr[tid + 1]]
        return bool(np.any(postings == unit))

    def membership(self, token: str, units: np.ndarray) -> np.ndarray:
        """For each of `units`: whether it contains the token (one postings read for all)."""
        tid = self._vocab.get(token)
        if tid is None:
            return np.zeros(len(units), dtype=bool)
        indptr = self._bm25.scores["indptr"]
        postings = self._bm25.scores["indices"][indptr[tid]:indptr[tid + 1]]
        return np.isin(units, postings)
