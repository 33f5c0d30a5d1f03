"""BM25 over jieba tokens, via bm25s, saved to and loaded from a directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np


class LexicalIndex:
    """Scores every passage for a tokenised query; the caller ranks and fuses."""

    def __init__(self, bm25: bm25s.BM25) -> None:
        self._bm25 = bm25
        self._vocab: dict[str, int] = bm25.vocab_dict

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

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        known = self.known(tokens)
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
