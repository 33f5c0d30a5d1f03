"""Query side: normalise, tokenise, score, rank, and decide whether the answer is covered.

The retriever holds one loaded index generation and swaps to a newer one when the
CURRENT pointer changes, so a publish reaches a running action server without a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.index_builder import MANIFEST, PASSAGES, current_generation
from knowledge.lexical_index import LexicalIndex
from knowledge.models import Passage, SearchHit
from knowledge.settings import KnowledgeSettings
from knowledge.text_normalizer import TextNormalizer
from knowledge.tokenizer import ChineseTokenizer

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500


class KnowledgeBaseUnavailable(RuntimeError):
    """No index generation has been built: run `bin/kb ingest`."""


@dataclass(frozen=True)
class SearchResult:
    query: str
    normalized_query: str
    tokens: list[str]
    hits: list[SearchHit]
    answerable: bool
    reason: str  # why it is (not) answerable, for logs and staff review
    generation: str = ""
    coverage: float = 0.0


@dataclass(frozen=True)
class _Generation:
    name: str
    path: Path
    passages: list[Passage]
    passage_tokens: list[frozenset[str]]
    lexical: LexicalIndex
    manifest: dict = field(default_factory=dict)


class Retriever:
    def __init__(
        self,
        settings: KnowledgeSettings,
        normalizer: TextNormalizer | None = None,
        tokenizer: ChineseTokenizer | None = None,
    ) -> None:
        self.settings = settings
        self.normalizer = normalizer or TextNormalizer()
        self.tokenizer = tokenizer or ChineseTokenizer.from_data(settings.data_dir)
        self._lock = threading.Lock()
        self._generation: _Generation | None = None
        self._last_check = 0.0
        self.reload(force=True)

    # -- index generations -------------------------------------------------------------
    @property
    def generation(self) -> str:
        return self._generation.name if self._generation else ""

    def _load(self, path: Path) -> _Generation:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        with (path / PASSAGES).open(encoding="utf-8") as f:
            passages = [Passage(**json.loads(line)) for line in f]
        tokens = [frozenset(self.tokenizer.tokenize(p.index_text())) for p in passages]
        return _Generation(path.name, path, passages, tokens, LexicalIndex.load(path / "bm25"),
                           manifest)

    def reload(self, force: bool = False) -> bool:
        """Loads the current generation if it changed; returns True when it swapped."""
        now = time.monotonic()
        if not force and now - self._last_check < self.settings.reload_check_seconds:
            return False
        with self._lock:
            self._last_check = now
            path = current_generation(self.settings.index_root)
            if path is None or (self._generation and self._generation.path == path):
                return False
            loaded = self._load(path)
            self._generation = loaded  # one reference swap: searches in flight keep the old one
            log.info("knowledge base generation %s loaded (%d passages)", loaded.name,
                     len(loaded.passages))
            return True

    def health(self) -> dict:
        gen = self._generation
        return {
            "generation": gen.name if gen else None,
            "passages": len(gen.passages) if gen else 0,
            "legs": {"bm25": gen is not None, "dense": False},
        }

    # -- querying ----------------------------------------------------------------------
    def search(self, query: str, top_k: int | None = None) -> SearchResult:
        self.reload()
        gen = self._generation
        if gen is None:
            raise KnowledgeBaseUnavailable("no index generation found; run `bin/kb ingest`")
        top_k = top_k or self.settings.top_k
        normalized = self.normalizer.query_text(query)[:MAX_QUERY_CHARS]
        tokens = list(dict.fromkeys(self.tokenizer.tokenize(normalized)))
        if not tokens:
            return SearchResult(query, normalized, [], [], False, "no content words", gen.name)
        scores = gen.lexical.scores(tokens)
        order = np.argsort(-scores, kind="stable")[:top_k]
        hits = [
            SearchHit(gen.passages[i], float(scores[i]), rank)
            for rank, i in enumerate(order, start=1)
            if scores[i] > 0
        ]
        if not hits:
            return SearchResult(query, normalized, tokens, [], False, "no matching words",
                                gen.name)
        top_tokens = gen.passage_tokens[order[0]]
        coverage = sum(t in top_tokens for t in tokens) / len(tokens)
        answerable = hits[0].score >= self.settings.min_score and (
            coverage >= self.settings.min_coverage
        )
        reason = (
            f"score={hits[0].score:.2f} (min {self.settings.min_score}),"
            f" coverage={coverage:.2f} (min {self.settings.min_coverage})"
        )
        return SearchResult(query, normalized, tokens, hits, answerable, reason, gen.name,
                            coverage)
