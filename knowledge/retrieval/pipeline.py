"""The search pipeline: one question against one loaded index generation.

Analyse the question (glossary), look an article up when one is named by number, score every
passage with each leg (BM25 over passages and anticipated questions; dense when BM25's evidence
is weak), fuse them with the document prior, and then, when the generation carries a learned
ranker (retrieval/ranker.py), re-rank the candidates and decide with its calibrated probability
whether the top article answers the question, whether a short choice between two or three
articles is honest, or whether to decline. A generation without a ranker is decided by the
hand-set thresholds of the settings.

Knows nothing of where generations come from or when they change: retrieval/retriever.py
(the live index) hands it the generation to search.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.indexing.anticipated import PASSAGE
from knowledge.indexing.encoders import Encoder
from knowledge.models import SearchHit
from knowledge.retrieval.article_reference import ArticleReference, find_reference
from knowledge.retrieval.candidates import (
    HandSetRule,
    LegScores,
    QuestionCues,
    candidate_ids,
    coverage_of,
    feature_matrix,
    word_credits,
)
from knowledge.retrieval.document_ranking import RankingCues
from knowledge.retrieval.fusion import METHODS, fuse
from knowledge.retrieval.query_analyzer import QueryAnalysis, QueryAnalyzer
from knowledge.retrieval.ranker import (
    CHOICE_ARTICLES,
    decision_row,
    merge_duplicates,
    ranked_articles,
)
from knowledge.settings import KnowledgeSettings

if TYPE_CHECKING:
    from knowledge.retrieval.live_index import LoadedGeneration

MAX_TOP_K = 50


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep document order."""
    if len(scores) > 4 * k:
        part = np.argpartition(-scores, k)[:k]
        cut = scores[part].min()
        part = np.flatnonzero(scores >= cut)  # every tie at the cut, for a stable order
        return part[np.argsort(-scores[part], kind="stable")][:k]
    return np.argsort(-scores, kind="stable")[:k]


@dataclass(frozen=True)
class SuccessorLink:
    """Where a repealed article lives on: articles of the text in force, and whether staff
    reviewed the link."""

    doc_id: str
    articles: tuple[int, ...]
    reviewed: bool


@dataclass(frozen=True)
class DocumentReference:
    """The document (and article) a question names, with what the answer must say about it:
    its status and, for a repealed text, when and by what, and where the article lives on."""

    doc_id: str
    alias: str  # the words the owner used
    article: int | None
    title: str
    in_force: bool
    wants_old_text: bool
    status: str = ""
    repealed: str = ""  # YYYY-MM-DD
    repealed_by: str = ""
    repealed_by_title: str = ""
    successor: SuccessorLink | None = None


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
    # The learned ranker's calibrated probability that the top article answers the question
    # (None when the generation has no ranker, or for an article looked up by number).
    confidence: float | None = None
    # Not answerable, yet two or three articles are each plausible: the owner is asked which
    # one is meant (their best passages, best first). Empty otherwise.
    choices: tuple[SearchHit, ...] = ()
    # The document the question names, if any (also in `details` for logs, as a dict).
    reference: DocumentReference | None = None


@dataclass(frozen=True)
class Candidates:
    """The candidates of one question as the ranker saw them (training reads these too)."""

    ids: np.ndarray  # passage positions
    features: np.ndarray  # one row per candidate, candidates.FEATURES
    coverage: np.ndarray


class SearchPipeline:
    def __init__(self, settings: KnowledgeSettings, analyzer: QueryAnalyzer,
                 encoder: Encoder | None, cues: RankingCues, in_force_only: bool = True) -> None:
        self.settings = settings
        self.analyzer = analyzer
        self.encoder = encoder
        self.cues = cues
        self.in_force_only = in_force_only
        if settings.fusion not in METHODS:
            raise ValueError(f"KB_FUSION={settings.fusion!r}: one of {', '.join(METHODS)}")
        self.hand_set_rule = HandSetRule.of(settings)

    def method(self, gen: LoadedGeneration | None, requested: str | None = None) -> str:
        method = requested or self.settings.fusion
        if method not in METHODS:
            raise ValueError(f"unknown fusion method {method!r}; one of {', '.join(METHODS)}")
        dense_live = gen is not None and gen.dense is not None and self.encoder is not None
        if not self.settings.bm25_enabled:
            return "dense" if dense_live else "none"
        if method == "learned" and (gen is None or gen.ranker is None):
            method = "rescue"
        if not dense_live and method not in ("learned",):
            return "bm25"
        return method

    # -- the whole search --------------------------------------------------------------------
    def search(self, gen: LoadedGeneration, query: str, top_k: int | None = None, *,
               fusion: str | None = None) -> SearchResult:
        try:
            top_k = max(1, min(int(top_k or self.settings.top_k), MAX_TOP_K))
        except (TypeError, ValueError):
            top_k = self.settings.top_k
        method = self.method(gen, fusion)
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
        a, named = self._without_document_name(gen, a, reference)
        cues = self.question_cues(gen, a, named, reference is not None)
        legs, strong, qvec = self.leg_scores(gen, a, method, cues)
        details: dict[str, Any] = {
            "glossary": [{"phrase": h.key, "terms": list(h.expansions)} for h in a.glossary_hits],
            "lexical_strong": strong,
        }
        named_ref = None
        if reference is not None:
            named_ref = self._reference_details(gen, reference)
            details["document_reference"] = asdict(named_ref)
        if a.truncated:
            details["truncated_to"] = len(a.normalized)
        if method == "learned":
            result = self._learned(gen, a, legs, cues, top_k, details, started)
        else:
            result = self._hand_set(gen, a, legs, qvec, method, top_k, details, started)
        return self._declined_topics(a, replace(result, reference=named_ref))

    def _without_document_name(self, gen: LoadedGeneration, a: QueryAnalysis,
                               reference: ArticleReference | None
                               ) -> tuple[QueryAnalysis, str | None]:
        """The document's name is not what is asked about ("老的大气法里说…停产吗"): search without
        it, and rank up the text in force (a repealed law's successor)."""
        if reference is None:
            return a, None
        doc = gen.documents.get(reference.doc_id, {})
        named = (doc.get("repealed_by") or None) if not doc.get("in_force", True) \
            else reference.doc_id
        rest = a.normalized.replace(reference.alias, " ", 1).strip()
        return (self.analyzer.analyze(rest) if rest else a), named

    def _declined_topics(self, a: QueryAnalysis, result: SearchResult) -> SearchResult:
        """Places and matters the knowledge base does not cover decline whatever matched."""
        why = ""
        if a.other_jurisdictions:
            why = (f"not covered: the question names {'、'.join(a.other_jurisdictions)},"
                   " whose policy is not in the knowledge base")
        elif a.out_of_scope_topics:
            why = (f"not covered: {'、'.join(a.out_of_scope_topics)} is outside the policy"
                   " (glossary out_of_scope_topics)")
        if not why or not result.hits:
            return result
        return replace(result, answerable=False, reason=why, choices=())

    # -- legs ----------------------------------------------------------------------------------
    def question_cues(self, gen: LoadedGeneration, a: QueryAnalysis, named: str | None,
                      names_document: bool) -> QuestionCues:
        c, q = self.cues, a.normalized
        return QuestionCues(about_law=names_document or c.asks_about_law(q),
                            about_penalty=c.asks_about_penalty(q),
                            about_duration=c.asks("duration_cues", q),
                            about_amount=c.asks("amount_cues", q),
                            about_procedure=c.asks("procedure_cues", q),
                            words=len(a.words), glossary_hits=len(a.glossary_hits),
                            idf_mass=sum(gen.lexical.idf(w) for w, _ in a.words),
                            named_doc=named)

    def leg_scores(self, gen: LoadedGeneration, a: QueryAnalysis, method: str,
                   cues: QuestionCues, exclude_units: frozenset[int] = frozenset(),
                   query_vector: np.ndarray | None = None
                   ) -> tuple[LegScores, bool, np.ndarray | None]:
        """Every leg's scores; the dense leg runs only where BM25's evidence is weak (rescue,
        learned) or always (the fused methods). `cues` (question_cues) choose the document
        prior. `exclude_units` hides units from both legs (training: an anticipated question
        must not find itself)."""
        lex, lex_src, own, question = self._lexical(gen, a, exclude_units)
        hidden = gen.not_in_force if self.in_force_only else None
        if hidden is not None:
            lex = np.where(hidden, 0.0, lex)
        strong = False
        if lex.max(initial=0.0) > 0:
            best = int(np.argmax(lex))
            strong = (lex[best] >= self.settings.rescue_min_score and self._coverage(
                gen, a, {best, int(lex_src[best])}) >= self.settings.rescue_min_coverage)
        dense_live = gen.dense is not None and self.encoder is not None
        weak_only = method == "rescue" or (method == "learned"
                                           and not self.settings.dense_always)
        want_dense = dense_live and method != "bm25" and not (weak_only and strong)
        dense = dense_src = qvec = None
        if want_dense:
            qvec, dense, dense_src = self._dense(gen, a, exclude_units, query_vector)
            if hidden is not None:
                dense = np.where(hidden, np.nan, dense)
        fused = fuse("rescue" if method == "learned" else method, lex, dense,
                     weight=self.settings.fusion_weight, rrf_k=self.settings.rrf_k,
                     depth=self.settings.rerank_depth, lexical_strong=strong)
        prior = np.ones(len(lex))
        if gen.masks is not None:
            st = self.settings
            prior = gen.masks.prior(
                about_law=cues.about_law, about_penalty=cues.about_penalty,
                named_doc=cues.named_doc, policy_boost=st.policy_boost,
                liability_boost=st.liability_boost, named_boost=st.named_document_boost)
        fused = fused * prior
        if hidden is not None:
            fused = np.where(hidden, -np.inf, fused)
        legs = LegScores(lex, lex_src, own, question, fused, prior, dense, dense_src, hidden)
        return legs, strong, qvec

    def _lexical(self, gen: LoadedGeneration, a: QueryAnalysis,
                 exclude_units: frozenset[int] = frozenset()
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-passage BM25 score (own plus the weighted best question), the unit that gave it,
        the passage's own score and the best question's score."""
        n = len(gen.passages)
        unit_scores = gen.lexical.weighted_scores(a.weights)
        if exclude_units:
            unit_scores[np.fromiter(exclude_units, np.int64)] = 0.0
        own = unit_scores[:n].astype(np.float64)
        lex = own.copy()
        src = np.arange(n)
        best_raw = np.zeros(n)
        qw = self.settings.question_weight if self.settings.anticipated_questions else 0.0
        if qw > 0 and len(unit_scores) > n:
            best_q = np.zeros(n)
            for j in np.flatnonzero(unit_scores[n:]) + n:
                targets = gen.units[j].targets
                t = targets[0] if len(targets) == 1 else max(targets, key=lambda i: own[i])
                score = float(unit_scores[j])
                if qw * score > best_q[t]:
                    best_q[t], src[t], best_raw[t] = qw * score, j, score
            if self.settings.question_mode == "sum":
                lex = lex + best_q
            else:
                src = np.where(best_q > lex, src, np.arange(n))
                lex = np.maximum(lex, best_q)
        return lex, src, own, best_raw

    def dense_query(self, a: QueryAnalysis) -> str:
        """What the dense encoder reads of a question: its first `dense_query_chars`
        (the encoder's cost grows with the length; an owner's question fits)."""
        return a.normalized[: self.settings.dense_query_chars]

    def _dense(self, gen: LoadedGeneration, a: QueryAnalysis,
               exclude_units: frozenset[int] = frozenset(),
               query_vector: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Query vector, per-passage cosine (NaN where not retrieved), unit that gave it (-1).
        `query_vector`: the question already encoded (training encodes them in batches)."""
        n = len(gen.passages)
        assert gen.dense is not None and self.encoder is not None
        qvec = (query_vector if query_vector is not None
                else self.encoder.encode_queries([self.dense_query(a)])[0])
        ids, sims = gen.dense.search(qvec, self.settings.dense_depth + len(exclude_units))
        dense = np.full(n, np.nan)
        src = np.full(n, -1)
        use_questions = self.settings.anticipated_questions
        for uid, sim in zip(ids.tolist(), sims.tolist(), strict=True):
            unit = gen.units[uid]
            if uid in exclude_units or (unit.kind != PASSAGE and not use_questions):
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

    def _coverage(self, gen: LoadedGeneration, a: QueryAnalysis, units: set[int]) -> float:
        """Share of the question's content words (idf-weighted) that the matched units contain:
        a word counts fully when a unit contains it or the glossary term standing for it, a long
        word in part when a unit contains one of its parts (今天天气 -> 天气 counts half)."""
        cols = np.asarray(sorted(units), dtype=np.int64)
        credits, weights = word_credits(gen.lexical, a.words, a.covered_by, cols)
        total = float(weights.sum())
        if credits.shape[0] == 0 or total <= 0:
            return 0.0
        return float(weights @ credits.max(axis=1)) / total

    # -- the learned ranker --------------------------------------------------------------------
    def candidates(self, gen: LoadedGeneration, a: QueryAnalysis, legs: LegScores,
                   cues: QuestionCues) -> Candidates:
        ids = candidate_ids(legs)
        if len(ids) == 0:
            return Candidates(ids, np.zeros((0, 0)), np.zeros(0))
        by_lex = legs.lexical_unit[ids]
        by_dense = ids if legs.dense_unit is None else np.where(legs.dense_unit[ids] >= 0,
                                                               legs.dense_unit[ids], ids)
        units = np.unique(np.concatenate([ids, by_lex, by_dense]))
        credits, weights = word_credits(gen.lexical, a.words, a.covered_by, units)
        cols = [np.searchsorted(units, c) for c in (ids, by_lex, by_dense)]
        coverage = coverage_of(credits, weights, cols)
        coverage_passage = coverage_of(credits, weights, cols[:1])
        features = feature_matrix(ids, legs, gen.traits, cues, coverage, coverage_passage,
                                  self.hand_set_rule)
        return Candidates(ids, features, coverage)

    def _learned(self, gen: LoadedGeneration, a: QueryAnalysis, legs: LegScores,
                 cues: QuestionCues, top_k: int, details: dict[str, Any],
                 started: float) -> SearchResult:
        ranker = gen.ranker
        assert ranker is not None
        found = self.candidates(gen, a, legs, cues)
        legs_used = ("bm25", "dense") if legs.dense is not None else ("bm25",)
        if len(found.ids) == 0:
            details["ms"] = round(1000 * (time.perf_counter() - started), 2)
            return SearchResult(a.query, a.normalized, a.tokens, [], False, "no matching words",
                                gen.name, fusion="learned", legs=legs_used, details=details)
        scores = ranker.score(found.features)
        order = np.argsort(-scores, kind="stable")
        ids, features, scores = found.ids[order], found.features[order], scores[order]
        coverage = float(found.coverage[order[0]])
        articles = ranked_articles(scores, merge_duplicates(
            gen.traits.article[ids], [gen.passages[i].text for i in ids.tolist()]))
        row = decision_row(features, articles)
        confidence = ranker.confidence(row)
        reach = ranker.reach_probability(row)
        policy = ranker.policy
        threshold = (self.settings.min_answer_probability
                     if self.settings.min_answer_probability is not None
                     else policy.answer_threshold)
        answerable = ranker.answers(row, confidence, threshold)

        def hit(pos: int, rank: int) -> SearchHit:
            i = int(ids[pos])
            return SearchHit(gen.passages[i], float(math.exp(scores[pos] - scores[0])), rank,
                             gen.documents.get(gen.passages[i].doc_id, {}))

        hits = [hit(pos, rank) for rank, pos in enumerate(range(min(top_k, len(ids))), start=1)]
        choices: tuple[SearchHit, ...] = ()
        if not answerable and reach >= policy.choice_threshold:
            picked = [art for art in articles[:CHOICE_ARTICLES]
                      if art.share >= policy.choice_min_share]
            if len(picked) >= 2:
                choices = tuple(hit(art.position, n) for n, art in enumerate(picked, start=1))
        top = int(ids[0])
        units = {top, int(legs.lexical_unit[top])}
        if legs.dense_unit is not None and legs.dense_unit[top] >= 0:
            units.add(int(legs.dense_unit[top]))
        via = [gen.units[u].text for u in sorted(units) if gen.units[u].kind != PASSAGE]
        sim = (None if legs.dense is None or math.isnan(legs.dense[top])
               else float(legs.dense[top]))
        details.update(top_lexical=round(float(legs.lexical[top]), 3), top_dense=sim,
                       coverage=round(coverage, 3),
                       matched_questions=via, confidence=round(confidence, 3),
                       reach=round(reach, 3), candidates=len(ids),
                       ms=round(1000 * (time.perf_counter() - started), 2))
        verdict = "covered" if answerable else ("a choice" if choices else "not covered")
        reason = (f"{verdict} (learned): p={confidence:.2f} (min {threshold:.2f}),"
                  f" reach={reach:.2f} (choice at {policy.choice_threshold:.2f}),"
                  f" bm25={float(legs.lexical[top]):.2f},"
                  f" coverage={coverage:.2f}, fusion=learned")
        return SearchResult(a.query, a.normalized, a.tokens, hits, answerable, reason, gen.name,
                            coverage, "learned", legs_used, details,
                            confidence, choices)

    # -- the hand-set decision (no ranker, or a leg evaluated alone) -----------------------------
    def _hand_set(self, gen: LoadedGeneration, a: QueryAnalysis, legs: LegScores,
                  qvec: np.ndarray | None, method: str, top_k: int, details: dict[str, Any],
                  started: float) -> SearchResult:
        scores = legs.fused
        if method == "dense" and legs.dense is not None:
            scores = np.where(np.isnan(legs.dense), -np.inf, legs.dense)
            if legs.hidden is not None:
                scores = np.where(legs.hidden, -np.inf, scores)
        order = _top_k(scores, top_k)
        hits = [SearchHit(gen.passages[i], float(scores[i]), rank,
                          gen.documents.get(gen.passages[i].doc_id, {}))
                for rank, i in enumerate((int(i) for i in order if np.isfinite(scores[i])),
                                         start=1)]
        dense_live = gen.dense is not None and self.encoder is not None
        legs_used = self._legs(method, legs.dense)
        if not hits:
            details["ms"] = round(1000 * (time.perf_counter() - started), 2)
            return SearchResult(a.query, a.normalized, a.tokens, [], False, "no matching words",
                                gen.name, fusion=method, legs=legs_used, details=details)
        top = int(order[0])
        units = {top, int(legs.lexical_unit[top])}
        if legs.dense_unit is not None and legs.dense_unit[top] >= 0:
            units.add(int(legs.dense_unit[top]))
        coverage = self._coverage(gen, a, units)
        lex_score = float(legs.lexical[top])
        law = bool(gen.masks is not None and not gen.masks.policy[top])
        answerable, why = self._answerable(lex_score, coverage, None, law)
        sim = None
        dense = legs.dense
        if dense is not None and not math.isnan(dense[top]):
            sim = float(dense[top])
        elif not answerable and dense_live and method != "bm25":
            # Weak lexical evidence: the dense leg may still vouch for the top passage.
            if qvec is None:
                qvec, dense, _ = self._dense(gen, a)
            assert gen.dense is not None and dense is not None
            sim = (float(dense[top]) if not math.isnan(dense[top])
                   else float(gen.dense.similarities(qvec, np.asarray([top]))[0]))
        if not answerable and sim is not None:
            answerable, why = self._answerable(lex_score, coverage, sim, law)
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
                            coverage, method, legs_used, details)

    @staticmethod
    def _legs(method: str, dense: np.ndarray | None) -> tuple[str, ...]:
        if method == "dense":
            return ("dense",)
        return ("bm25", "dense") if dense is not None else ("bm25",)

    def _answerable(self, lex_score: float, coverage: float,
                    sim: float | None, law: bool = False) -> tuple[bool, str]:
        rule = self.hand_set_rule
        if rule.lexical(lex_score, coverage, law):
            return True, "covered (lexical)"
        if sim is not None and rule.vouched(lex_score, coverage, sim):
            return True, "covered (dense + lexical)"
        return False, "not covered"

    # -- documents and articles named in the question -----------------------------------------
    def _reference_details(self, gen: LoadedGeneration,
                           ref: ArticleReference) -> DocumentReference:
        """What the answer must say about the document the owner named."""
        doc = gen.documents.get(ref.doc_id, {})
        base = DocumentReference(ref.doc_id, ref.alias, ref.article, doc.get("title", ""),
                                 bool(doc.get("in_force", True)), ref.wants_old_text)
        if base.in_force:
            return base
        by = gen.documents.get(doc.get("repealed_by", ""), {})
        link = gen.successors.get((ref.doc_id, ref.article)) if ref.article is not None else None
        return replace(base, status=doc.get("status", ""), repealed=doc.get("repealed", ""),
                       repealed_by=doc.get("repealed_by", ""),
                       repealed_by_title=by.get("title", ""),
                       successor=(SuccessorLink(link.doc_id, tuple(link.articles), link.reviewed)
                                  if link else None))

    def _article_lookup(self, gen: LoadedGeneration, a: QueryAnalysis, ref: ArticleReference,
                        method: str, started: float) -> SearchResult:
        """"法典第五十二条" gets exactly that article; an article of a repealed text gets its
        successor in the text in force (its own old text only when asked for it)."""
        named_ref = self._reference_details(gen, ref)
        details: dict[str, Any] = {"document_reference": asdict(named_ref)}
        number = ref.article or 0
        targets = [(ref.doc_id, number)]
        why = "article lookup"
        repealed = not gen.documents.get(ref.doc_id, {}).get("in_force", True)
        if repealed and self.in_force_only and not ref.wants_old_text:
            successor = gen.successors.get((ref.doc_id, number))
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
                            1.0 if hits else 0.0, method, ("article",), details,
                            reference=named_ref)
