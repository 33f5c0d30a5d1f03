"""The live index: the generation this process serves, swapped when a newer one is published.

Holds one loaded generation (retrieval/live_index.py) and swaps to a newer one when the CURRENT
pointer changes, so a publish reaches a running action server without a restart; answers what
the live index holds (documents, an article by number, legal bases, health), and hands every
question to the search pipeline (retrieval/pipeline.py) together with the generation to search.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from knowledge.indexing.encoders import Encoder, load_encoder, set_inference_threads
from knowledge.indexing.generation import current_generation
from knowledge.language.normalizer import TextNormalizer
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import KnowledgeBaseUnavailable, Passage
from knowledge.retrieval.cross_references import CrossReferenceMap
from knowledge.retrieval.document_ranking import RANKING_FILE, RankingCues
from knowledge.retrieval.live_index import LoadedGeneration
from knowledge.retrieval.pipeline import SearchPipeline, SearchResult
from knowledge.retrieval.query_analyzer import Glossary, QueryAnalyzer
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

_UNSET: Any = object()

__all__ = ["KnowledgeBaseUnavailable", "Retriever", "SearchResult"]


class Retriever:
    def __init__(
        self,
        settings: KnowledgeSettings,
        normalizer: TextNormalizer | None = None,
        tokenizer: ChineseTokenizer | None = None,
        encoder: Encoder | None = _UNSET,
        analyzer: QueryAnalyzer | None = None,
        encoder_status: str = "",
        in_force_only: bool = True,
    ) -> None:
        """`in_force_only`: rank only passages of texts in force (a repealed law's passages are
        in the index for its old text and for audits, never an answer by default)."""
        self.settings = settings
        self.in_force_only = in_force_only
        self.cues = RankingCues.load(settings.data_dir / RANKING_FILE)
        self.normalizer = normalizer or TextNormalizer()
        self.tokenizer = tokenizer or ChineseTokenizer.from_data(settings.data_dir)
        if encoder is _UNSET:
            encoder, self.encoder_status = load_encoder(
                settings.dense_model, settings.dense_model_path, settings.dense_query_prefix,
                settings.dense_quantize,
            )
        else:
            self.encoder_status = encoder_status or (
                "" if encoder is not None else "no encoder configured"
            )
        self.encoder: Encoder | None = encoder
        if encoder is not None:
            set_inference_threads(settings.dense_threads)
        self.analyzer = analyzer or QueryAnalyzer(
            self.normalizer,
            self.tokenizer,
            Glossary.load(settings.data_dir / "glossary.yml"),
            matcher=settings.glossary_matcher,
            expansion_weight=settings.expansion_weight,
            max_chars=settings.max_query_chars,
        )
        self.pipeline = SearchPipeline(settings, self.analyzer, self.encoder, self.cues,
                                       in_force_only)
        self._lock = threading.Lock()
        self._generation: LoadedGeneration | None = None
        self._last_check = 0.0
        self.reload(force=True)

    # -- index generations -------------------------------------------------------------
    @property
    def generation(self) -> str:
        """The served generation's name ("" before the first ingest); a retriever created
        before its home had one (ranker training does) looks again."""
        if self._generation is None:
            self.reload(force=True)
        return self._generation.name if self._generation else ""

    @property
    def loaded(self) -> LoadedGeneration | None:
        """The generation being served (None before the first ingest)."""
        return self._generation

    def load(self, path: Path, *, with_ranker: bool = True) -> LoadedGeneration:
        """A generation directory loaded with this retriever's encoder and cues (not served:
        ranker training loads the generation it is about to publish)."""
        return LoadedGeneration.load(path, self.settings, self.encoder, self.encoder_status,
                                     self.cues, with_ranker=with_ranker)

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
            loaded = self.load(path)
            self._generation = loaded  # one reference swap: searches in flight keep the old one
            log.info("knowledge base generation %s loaded (%d passages, %d units, dense %s,"
                     " ranker %s)", loaded.name, len(loaded.passages), len(loaded.units),
                     loaded.dense_status, "on" if loaded.ranker else "off")
            return True

    def health(self) -> dict:
        gen = self._generation
        dense_live = bool(gen and gen.dense is not None)
        aq = (gen.manifest.get("anticipated_questions") or {}) if gen else {}
        ranker = gen.ranker if gen else None
        return {
            "generation": gen.name if gen else None,
            "loaded_at": gen.loaded_at if gen else None,
            "passages": len(gen.passages) if gen else 0,
            "units": len(gen.units) if gen else 0,
            "legs": {"bm25": gen is not None and self.settings.bm25_enabled,
                     "dense": dense_live},
            "fusion": self.pipeline.method(gen) if gen else None,
            "ranker": ({"answer_threshold": ranker.policy.answer_threshold,
                        "choice_threshold": ranker.policy.choice_threshold,
                        "tuning": ranker.policy.report} if ranker else None),
            "dense": {
                "status": gen.dense_status if gen else f"off: {self.encoder_status}",
                "model": self.encoder.name if self.encoder else None,
                "index": gen.dense.kind if gen is not None and gen.dense is not None else None,
                "licence": getattr(self.encoder, "licence_note", "") if self.encoder else "",
            },
            "glossary_matcher": self.analyzer.matcher_name,
            "anticipated_questions": aq.get("units", 0),
            "problems": list(aq.get("problems") or []),
        }

    @property
    def documents(self) -> dict[str, dict]:
        """doc_id -> title, short title, type, status, relations, aliases of the live index."""
        self.reload(force=self._generation is None)
        return self._generation.documents if self._generation else {}

    @property
    def cross_references(self) -> CrossReferenceMap:
        """Articles in force that point to a repealed law (answering adds what governs now)."""
        return self._generation.cross_references if self._generation else {}

    @property
    def successors(self) -> dict:
        return self._generation.successors if self._generation else {}

    def legal_basis(self, passage: Passage) -> list[dict[str, Any]]:
        """The articles in force a clause rests on (knowledge/data/legal_basis.yml), with their
        citations, when those laws are in the live index; [] otherwise."""
        gen = self._generation
        if gen is None:
            return []
        out = []
        for doc_id, article in gen.basis.get((passage.doc_id, passage.clause_key), ()):
            ids = gen.articles.get((doc_id, article))
            if ids and gen.documents.get(doc_id, {}).get("in_force", True):
                out.append({"doc_id": doc_id, "article": article,
                            "citation": gen.passages[ids[0]].citation,
                            "short_title": gen.documents[doc_id].get("short_title", "")})
        return out

    def passage(self, passage_id: str) -> Passage | None:
        """A passage of the live generation by id (None if that generation no longer has it)."""
        self.reload(force=self._generation is None)
        gen = self._generation
        position = gen.passage_index.get(passage_id) if gen else None
        return gen.passages[position] if position is not None else None

    def article(self, doc_id: str, number: int) -> list[Passage]:
        """The passages of article `number` of a law in the live index, in order ([] if none)."""
        self.reload(force=self._generation is None)
        gen = self._generation
        return [gen.passages[i] for i in gen.articles.get((doc_id, number), [])] if gen else []

    def document_in_force(self, doc_id: str) -> bool:
        return bool(self.documents.get(doc_id, {}).get("in_force", True))

    # -- querying ----------------------------------------------------------------------
    def search(self, query: str, top_k: int | None = None, *,
               fusion: str | None = None) -> SearchResult:
        """Ranks passages for the question. `fusion` overrides the configured method (eval)."""
        self.reload(force=self._generation is None)
        gen = self._generation
        if gen is None:
            raise KnowledgeBaseUnavailable("no index generation found; run `bin/kb ingest`")
        return self.pipeline.search(gen, query, top_k, fusion=fusion)
