"""Query side: analyse, score with each leg, fuse, rank, and decide whether the answer is covered.

Legs: BM25 over jieba tokens (always built) and, when a sentence encoder is present, dense
retrieval over FAISS. Both score *units*: the passages (each sentence with its item title as
context) and the anticipated questions, which point back at their clause's real passages; a
passage's score in a leg is the best of its own score and those of the questions pointing at it,
so answers always quote the policy's own sentence. knowledge/retrieval/fusion.py combines the legs.

The retriever holds one loaded index generation and swaps to a newer one when the CURRENT
pointer changes, so a publish reaches a running action server without a restart.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.indexing.anticipated import PASSAGE, IndexUnit
from knowledge.indexing.dense_index import DenseIndex
from knowledge.indexing.encoders import Encoder, load_encoder, set_inference_threads
from knowledge.indexing.generation import IndexGeneration, current_generation
from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.indexing.vector_cache import encode_with_cache, open_vector_cache
from knowledge.language.normalizer import TextNormalizer
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import LEGISLATION_TYPES, Passage, SearchHit
from knowledge.retrieval.article_reference import (
    ArticleReference,
    LegalBasisMap,
    SuccessorMap,
    find_reference,
    load_legal_basis,
    load_successors,
)
from knowledge.retrieval.document_ranking import RANKING_FILE, DocumentMasks, RankingCues
from knowledge.retrieval.fusion import METHODS, fuse
from knowledge.retrieval.query_analyzer import Glossary, QueryAnalysis, QueryAnalyzer
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

MAX_TOP_K = 50
SUCCESSORS_FILE = "successors.yml"  # knowledge/data/: written by `bin/kb successors --write`
LEGAL_BASIS_FILE = "legal_basis.yml"  # knowledge/data/: the laws an opinion clause rests on
# A generation built without dense vectors is encoded on load when it is this small.
ENCODE_ON_LOAD_MAX_UNITS = 2000
_UNSET: Any = object()


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep document order."""
    if len(scores) > 4 * k:
        part = np.argpartition(-scores, k)[:k]
        cut = scores[part].min()
        part = np.flatnonzero(scores >= cut)  # every tie at the cut, for a stable order
        return part[np.argsort(-scores[part], kind="stable")][:k]
    return np.argsort(-scores, kind="stable")[:k]


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
    fusion: str = ""  # the method that ranked the hits ("bm25" when the dense leg is off)
    legs: tuple[str, ...] = ()  # legs that took part
    details: dict[str, Any] = field(default_factory=dict)  # features, glossary hits, timings


@dataclass(frozen=True)
class _Generation:
    name: str
    path: Path
    passages: list[Passage]
    units: list[IndexUnit]
    lexical: LexicalIndex
    manifest: dict = field(default_factory=dict)
    dense: DenseIndex | None = None
    dense_status: str = ""
    loaded_at: float = 0.0  # UNIX time this process started serving it
    documents: dict[str, dict] = field(default_factory=dict)  # doc_id -> manifest record
    not_in_force: np.ndarray | None = None  # passage mask: its text is not in force
    masks: DocumentMasks | None = None
    articles: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # -> passages

    @classmethod
    def of(cls, path: Path, stored: IndexGeneration, dense: DenseIndex | None,
           status: str, cues: RankingCues) -> _Generation:
        documents = dict(stored.manifest.get("document_info") or {})
        mask = np.fromiter((not documents.get(p.doc_id, {}).get("in_force", True)
                            for p in stored.passages), dtype=bool, count=len(stored.passages))
        articles: dict[tuple[str, int], list[int]] = {}
        for i, p in enumerate(stored.passages):
            if p.item_no is not None and (documents.get(p.doc_id, {}).get("doc_type")
                                          in LEGISLATION_TYPES):
                articles.setdefault((p.doc_id, p.item_no), []).append(i)
        return cls(path.name, path, stored.passages, stored.units, stored.lexical,
                   stored.manifest, dense, status, time.time(), documents,
                   mask if mask.any() else None,
                   DocumentMasks.of(stored.passages, documents, cues), articles)


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
        self.successors: SuccessorMap = {}
        self.basis: LegalBasisMap = {}
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
        if settings.fusion not in METHODS:
            raise ValueError(f"KB_FUSION={settings.fusion!r}: one of {', '.join(METHODS)}")
        self._lock = threading.Lock()
        self._generation: _Generation | None = None
        self._last_check = 0.0
        self.reload(force=True)

    # -- index generations -------------------------------------------------------------
    @property
    def generation(self) -> str:
        return self._generation.name if self._generation else ""

    def _load(self, path: Path) -> _Generation:
        stored = IndexGeneration.load(path, dense_model=self.encoder.name if self.encoder else None)
        dense, status = self._dense_for(path.name, stored)
        self.successors = load_successors(self.settings.data_dir / SUCCESSORS_FILE)
        self.basis = load_legal_basis(self.settings.data_dir / LEGAL_BASIS_FILE)
        return _Generation.of(path, stored, dense, status, self.cues)

    def _dense_for(self, name: str, stored: IndexGeneration) -> tuple[DenseIndex | None, str]:
        """The stored vectors when they are this encoder's; a small generation built without
        them (or with another model's) is encoded on load instead."""
        if self.encoder is None:
            return None, f"off: {self.encoder_status}"
        if stored.dense is not None:
            return stored.dense, f"on: {self.encoder.name}"
        built_with = stored.dense_model or "no dense vectors"
        texts = [u.text for u in stored.units]
        cache = open_vector_cache(self.settings.vector_cache_dir)
        dim = getattr(self.encoder, "dim", None)
        if len(stored.units) > ENCODE_ON_LOAD_MAX_UNITS:
            # Too many to encode on load, but the vector cache may hold them all.
            found = cache.get_many(self.encoder.name, texts, dim=dim) if cache else {}
            if len(found) < len(set(texts)):
                return None, (f"off: generation built with {built_with}, encoder is"
                              f" {self.encoder.name}; run `bin/kb ingest`")
            how = "from the vector cache"
        else:
            log.info("generation %s has %s; encoding its %d units with %s on load", name,
                     built_with, len(stored.units), self.encoder.name)
            found, cached = encode_with_cache(self.encoder.encode_passages, self.encoder.name,
                                              texts, cache, dim)
            how = "encoded on load" + (f", {cached} from the vector cache" if cached else "")
        vectors = np.stack([found[t] for t in texts]) if texts else \
            np.zeros((0, dim or 0), dtype=np.float32)
        index = DenseIndex.build(vectors, self.settings.dense_index, self.settings.dense_flat_max)
        return index, f"on: {self.encoder.name} ({how})"

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
            log.info("knowledge base generation %s loaded (%d passages, %d units, dense %s)",
                     loaded.name, len(loaded.passages), len(loaded.units), loaded.dense_status)
            return True

    def _method(self, gen: _Generation, requested: str | None = None) -> str:
        method = requested or self.settings.fusion
        if method not in METHODS:
            raise ValueError(f"unknown fusion method {method!r}; one of {', '.join(METHODS)}")
        dense_live = gen.dense is not None
        if not self.settings.bm25_enabled:
            return "dense" if dense_live else "none"
        if not dense_live:
            return "bm25"
        return method

    def health(self) -> dict:
        gen = self._generation
        dense_live = bool(gen and gen.dense is not None)
        aq = (gen.manifest.get("anticipated_questions") or {}) if gen else {}
        return {
            "generation": gen.name if gen else None,
            "loaded_at": gen.loaded_at if gen else None,
            "passages": len(gen.passages) if gen else 0,
            "units": len(gen.units) if gen else 0,
            "legs": {"bm25": gen is not None and self.settings.bm25_enabled,
                     "dense": dense_live},
            "fusion": self._method(gen) if gen else None,
            "dense": {
                "status": gen.dense_status if gen else f"off: {self.encoder_status}",
                "model": self.encoder.name if self.encoder else None,
                "index": gen.dense.kind if dense_live else None,
                "licence": getattr(self.encoder, "licence_note", "") if self.encoder else "",
            },
            "glossary_matcher": self.analyzer.matcher_name,
            "anticipated_questions": aq.get("units", 0),
            "problems": list(aq.get("problems") or []),
        }

    @property
    def documents(self) -> dict[str, dict]:
        """doc_id -> title, short title, type, status, relations, aliases of the live index."""
        self.reload()
        return self._generation.documents if self._generation else {}

    def legal_basis(self, passage: Passage) -> list[dict[str, Any]]:
        """The articles in force a clause rests on (knowledge/data/legal_basis.yml), with their
        citations, when those laws are in the live index; [] otherwise."""
        gen = self._generation
        if gen is None:
            return []
        out = []
        for doc_id, article in self.basis.get((passage.doc_id, passage.clause_key), ()):
            ids = gen.articles.get((doc_id, article))
            if ids and gen.documents.get(doc_id, {}).get("in_force", True):
                out.append({"doc_id": doc_id, "article": article,
                            "citation": gen.passages[ids[0]].citation,
                            "short_title": gen.documents[doc_id].get("short_title", "")})
        return out

    def article(self, doc_id: str, number: int) -> list[Passage]:
        """The passages of article `number` of a law in the live index, in order ([] if none)."""
        self.reload()
        gen = self._generation
        return [gen.passages[i] for i in gen.articles.get((doc_id, number), [])] if gen else []

    def document_in_force(self, doc_id: str) -> bool:
        return bool(self.documents.get(doc_id, {}).get("in_force", True))

    # -- querying ----------------------------------------------------------------------
    def search(self, query: str, top_k: int | None = None, *,
               fusion: str | None = None) -> SearchResult:
        """Ranks passages for the question. `fusion` overrides the configured method (eval)."""
        self.reload()
        gen = self._generation
        if gen is None:
            raise KnowledgeBaseUnavailable("no index generation found; run `bin/kb ingest`")
        try:
            top_k = max(1, min(int(top_k or self.settings.top_k), MAX_TOP_K))
        except (TypeError, ValueError):
            top_k = self.settings.top_k
        method = self._method(gen, fusion)
        a = self.analyzer.analyze(query)
        if a.problem:
            return SearchResult(a.query, a.normalized, a.tokens, [], False, a.problem, gen.name,
                                fusion=method)
        if method == "none":
            return SearchResult(a.query, a.normalized, a.tokens, [], False,
                                "no retrieval leg is live", gen.name, fusion=method)
        started = time.perf_counter()
        reference = find_reference(a.normalized, gen.documents)
        if reference is not None and reference.article is not None:
            return self._article_lookup(gen, a, reference, method, started)
        named = None
        if reference is not None:
            # The document's name is not what is asked about ("老的大气法里说…停产吗"): search
            # without it, and rank up the text in force (a repealed law's successor).
            doc = gen.documents.get(reference.doc_id, {})
            named = (doc.get("repealed_by") or None) if not doc.get("in_force", True) \
                else reference.doc_id
            rest = a.normalized.replace(reference.alias, " ", 1).strip()
            if rest:
                a = self.analyzer.analyze(rest)
        lex, lex_src = self._lexical(gen, a)
        hidden = gen.not_in_force if self.in_force_only else None
        if hidden is not None:
            lex = np.where(hidden, 0.0, lex)
        strong = False
        if lex.max(initial=0.0) > 0:
            best = int(np.argmax(lex))
            strong = (lex[best] >= self.settings.rescue_min_score and self._coverage(
                gen, a, {best, int(lex_src[best])}) >= self.settings.rescue_min_coverage)
        dense_live = gen.dense is not None and self.encoder is not None
        # Rescue trusts BM25 when its evidence is strong: no encoder call at all then.
        want_dense = dense_live and method != "bm25" and not (method == "rescue" and strong)
        dense = dense_src = qvec = None
        if want_dense:
            qvec, dense, dense_src = self._dense(gen, a)
            if hidden is not None:
                dense = np.where(hidden, np.nan, dense)
        scores = fuse(method, lex, dense, weight=self.settings.fusion_weight,
                      rrf_k=self.settings.rrf_k, depth=self.settings.rerank_depth,
                      lexical_strong=strong)
        if gen.masks is not None:
            st = self.settings
            scores = scores * gen.masks.prior(
                about_law=reference is not None or self.cues.asks_about_law(a.normalized),
                about_penalty=self.cues.asks_about_penalty(a.normalized),
                named_doc=named, policy_boost=st.policy_boost,
                liability_boost=st.liability_boost, named_boost=st.named_document_boost)
        if hidden is not None:
            scores = np.where(hidden, -np.inf, scores)
        order = _top_k(scores, top_k)
        hits = [SearchHit(gen.passages[i], float(scores[i]), rank,
                          gen.documents.get(gen.passages[i].doc_id, {}))
                for rank, i in enumerate((int(i) for i in order if np.isfinite(scores[i])),
                                         start=1)]
        details: dict[str, Any] = {
            "glossary": [{"phrase": h.key, "terms": list(h.expansions)} for h in a.glossary_hits],
            "lexical_strong": strong,
        }
        if reference is not None:
            details["document_reference"] = self._reference_details(gen, reference)
        if a.truncated:
            details["truncated_to"] = len(a.normalized)
        if not hits:
            details["ms"] = round(1000 * (time.perf_counter() - started), 2)
            return SearchResult(a.query, a.normalized, a.tokens, [], False, "no matching words",
                                gen.name, fusion=method, legs=self._legs(method, dense),
                                details=details)
        top = int(order[0])
        units = {top, int(lex_src[top])}
        if dense_src is not None and dense_src[top] >= 0:
            units.add(int(dense_src[top]))
        coverage = self._coverage(gen, a, units)
        lex_score = float(lex[top])
        law = bool(gen.masks is not None and not gen.masks.policy[top])
        answerable, why = self._answerable(lex_score, coverage, None, law)
        sim = None
        if dense is not None and not math.isnan(dense[top]):
            sim = float(dense[top])
        elif not answerable and dense_live and method != "bm25":
            # Weak lexical evidence: the dense leg may still vouch for the top passage.
            if qvec is None:
                qvec, dense, dense_src = self._dense(gen, a)
            assert gen.dense is not None and dense is not None
            sim = (float(dense[top]) if not math.isnan(dense[top])
                   else float(gen.dense.similarities(qvec, np.asarray([top]))[0]))
        if not answerable and sim is not None:
            answerable, why = self._answerable(lex_score, coverage, sim, law)
        if a.other_jurisdictions:
            answerable = False
            why = (f"not covered: the question names {'、'.join(a.other_jurisdictions)},"
                   " whose policy is not in the knowledge base")
        elif a.out_of_scope_topics:
            answerable = False
            why = (f"not covered: {'、'.join(a.out_of_scope_topics)} is outside the policy"
                   " (glossary out_of_scope_topics)")
        via = [gen.units[u].text for u in sorted(units) if gen.units[u].kind != PASSAGE]
        details.update(top_lexical=round(lex_score, 3), top_dense=sim, coverage=round(coverage, 3),
                       matched_questions=via,
                       ms=round(1000 * (time.perf_counter() - started), 2))
        st = self.settings
        reason = (f"{why}: bm25={lex_score:.2f} (min {st.min_score_law if law else st.min_score}),"
                  f" coverage={coverage:.2f}"
                  f" (min {st.min_coverage_law if law else st.min_coverage})"
                  + (f", dense={sim:.3f} (min {self.settings.min_dense_similarity})"
                     if sim is not None else "")
                  + f", fusion={method}")
        return SearchResult(a.query, a.normalized, a.tokens, hits, answerable, reason, gen.name,
                            coverage, method, self._legs(method, dense), details)

    def _reference_details(self, gen: _Generation, ref: ArticleReference) -> dict[str, Any]:
        """What the answer must say about the document the owner named: its status and, for a
        repealed text, when and by what, and where the article lives on."""
        doc = gen.documents.get(ref.doc_id, {})
        out: dict[str, Any] = {"doc_id": ref.doc_id, "alias": ref.alias, "article": ref.article,
                               "title": doc.get("title", ""), "in_force": doc.get("in_force", True),
                               "wants_old_text": ref.wants_old_text}
        if not doc.get("in_force", True):
            by = gen.documents.get(doc.get("repealed_by", ""), {})
            out.update(status=doc.get("status", ""), repealed=doc.get("repealed", ""),
                       repealed_by=doc.get("repealed_by", ""),
                       repealed_by_title=by.get("title", ""))
            if ref.article is not None:
                successor = self.successors.get((ref.doc_id, ref.article))
                out["successor"] = ({"doc_id": successor.doc_id,
                                     "articles": list(successor.articles),
                                     "reviewed": successor.reviewed}
                                    if successor else None)
        return out

    def _article_lookup(self, gen: _Generation, a: QueryAnalysis, ref: ArticleReference,
                        method: str, started: float) -> SearchResult:
        """"法典第五十二条" gets exactly that article; an article of a repealed text gets its
        successor in the text in force (its own old text only when asked for it)."""
        details: dict[str, Any] = {"document_reference": self._reference_details(gen, ref)}
        number = ref.article or 0
        targets = [(ref.doc_id, number)]
        why = "article lookup"
        repealed = not gen.documents.get(ref.doc_id, {}).get("in_force", True)
        if repealed and self.in_force_only and not ref.wants_old_text:
            successor = self.successors.get((ref.doc_id, number))
            targets = [(successor.doc_id, n) for n in successor.articles] if successor else []
            why = "repealed article: its successor in force" if successor else \
                "repealed article without a known successor"
        ids = [i for target in targets for i in gen.articles.get(target, [])]
        if targets and not ids:
            why = f"{ref.alias} has no article {ref.article} in the index"
        hits = [SearchHit(gen.passages[i], 1.0 / rank, rank,
                          gen.documents.get(gen.passages[i].doc_id, {}))
                for rank, i in enumerate(ids[:MAX_TOP_K], start=1)]
        details["ms"] = round(1000 * (time.perf_counter() - started), 2)
        return SearchResult(a.query, a.normalized, a.tokens, hits, bool(hits), why, gen.name,
                            1.0 if hits else 0.0, method, ("article",), details)

    @staticmethod
    def _legs(method: str, dense: np.ndarray | None) -> tuple[str, ...]:
        if method == "dense":
            return ("dense",)
        return ("bm25", "dense") if dense is not None else ("bm25",)

    def _answerable(self, lex_score: float, coverage: float,
                    sim: float | None, law: bool = False) -> tuple[bool, str]:
        s = self.settings
        min_score, min_coverage = ((s.min_score_law, s.min_coverage_law) if law
                                   else (s.min_score, s.min_coverage))
        if lex_score >= min_score and coverage >= min_coverage:
            return True, "covered (lexical)"
        if (sim is not None and sim >= s.min_dense_similarity
                and lex_score >= s.min_dense_lexical and coverage >= s.min_dense_coverage):
            return True, "covered (dense + lexical)"
        return False, "not covered"

    def _lexical(self, gen: _Generation, a: QueryAnalysis) -> tuple[np.ndarray, np.ndarray]:
        """Per-passage BM25 score and the unit that gave it."""
        n = len(gen.passages)
        unit_scores = gen.lexical.weighted_scores(a.weights)
        lex = unit_scores[:n].astype(np.float64)
        src = np.arange(n)
        qw = self.settings.question_weight if self.settings.anticipated_questions else 0.0
        if qw > 0 and len(unit_scores) > n:
            own = unit_scores[:n]
            best_q = np.zeros(n)
            for j in np.flatnonzero(unit_scores[n:]) + n:
                targets = gen.units[j].targets
                t = targets[0] if len(targets) == 1 else max(targets, key=lambda i: own[i])
                score = qw * float(unit_scores[j])
                if score > best_q[t]:
                    best_q[t], src[t] = score, j
            if self.settings.question_mode == "sum":
                lex = lex + best_q
            else:
                src = np.where(best_q > lex, src, np.arange(n))
                lex = np.maximum(lex, best_q)
        return lex, src

    def _dense(self, gen: _Generation,
               a: QueryAnalysis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Query vector, per-passage cosine (NaN where not retrieved), unit that gave it (-1)."""
        n = len(gen.passages)
        assert gen.dense is not None and self.encoder is not None
        qvec = self.encoder.encode_queries([a.normalized])[0]
        ids, sims = gen.dense.search(qvec, self.settings.dense_depth)
        dense = np.full(n, np.nan)
        src = np.full(n, -1)
        use_questions = self.settings.anticipated_questions
        for uid, sim in zip(ids.tolist(), sims.tolist(), strict=True):
            unit = gen.units[uid]
            if unit.kind != PASSAGE and not use_questions:
                continue
            targets = unit.targets
            if len(targets) == 1:
                t = targets[0]
            else:
                own = gen.dense.similarities(qvec, np.asarray(targets))
                t = targets[int(np.argmax(own))]
            if np.isnan(dense[t]) or sim > dense[t]:
                dense[t], src[t] = sim, uid
        return qvec, dense, src

    def _coverage(self, gen: _Generation, a: QueryAnalysis, units: set[int]) -> float:
        """Share of the question's content words (idf-weighted) that the matched units contain.

        A word counts fully when a unit contains it, or when the glossary maps it to a policy
        term a unit contains; a long word counts in part when a unit contains one of its parts
        (今天天气 -> 天气 counts half).
        """
        def has(token: str) -> bool:
            return any(gen.lexical.contains(token, u) for u in units)

        total = covered = 0.0
        for word, tokens in a.words:
            weight = gen.lexical.idf(word)
            total += weight
            if has(word) or any(has(t) for t in a.covered_by.get(word, ())):
                covered += weight
            else:
                parts = [len(t) / len(word) for t in tokens if t != word and has(t)]
                covered += weight * max(parts, default=0.0)
        return covered / total if total else 0.0
