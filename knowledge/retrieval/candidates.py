"""The candidates of one question and what the learned ranker sees of each.

Every leg scores every passage (retrieval/pipeline.py); the ranker looks only at the few dozen
passages some leg put near the top, and describes each with numbers that do not depend on which
document it is: how each leg scored it and where it ranked, how much of the question its text
(and the anticipated question that found it) covers, how far it is behind the best, whether the
legs agree, what kind of text it is, and which kind of question is asked. A model trained on one
generation therefore ranks the next one (a publish) without retraining.

The cues for the kind of question and the marks of a passage (amounts, durations) are data in
knowledge/data/ranking.yml, beside the document cues.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.models import LEGISLATION_TYPES, Passage
from knowledge.settings import KnowledgeSettings

# How many passages each leg contributes to the candidates.
CANDIDATES_PER_LEG = 25
RANK_CAP = 100.0  # a passage a leg did not rank sits at this rank

# The kinds of text, as one feature each (an upload without a type counts as policy).
_KINDS = ("provincial_policy", "law", "administrative_regulation", "ministry_rule")

FEATURES = (
    # the lexical leg (BM25 over passages and anticipated questions)
    "lex", "lex_ratio", "lex_rank", "lex_own", "lex_question", "lex_gap",
    # the same, over the question's own weight (its words' idf): comparable across questions
    "lex_norm", "own_norm", "question_norm",
    # the dense leg (NaN when it did not run for this question)
    "dense", "dense_gap", "dense_rank", "dense_ran",
    # the hand-set fusion with the document prior, as it ranked before the ranker
    "fused_ratio", "fused_rank", "prior",
    # agreement and coverage
    "legs_agree", "coverage", "coverage_passage", "coverage_gap",
    # the article (or clause) the passage belongs to
    "article_lex_rank", "article_candidates", "sentence_no",
    # what kind of text the passage is
    "kind_policy", "kind_law", "kind_regulation", "kind_ministry_rule", "liability",
    "has_amount", "has_duration", "has_procedure", "named_document",
    # what kind of question it is
    "q_law", "q_penalty", "q_duration", "q_amount", "q_procedure", "q_words",
    "q_glossary",
    # question kind x passage mark
    "duration_match", "amount_match",
    # the hand-set answerability (settings' thresholds) for this candidate
    "handset_answerable",
)


@dataclass(frozen=True)
class HandSetRule:
    """The hand-set answerability of the settings (min BM25 and coverage, stricter for a law;
    dense similarity vouching for a weaker lexical match), as one feature of each candidate."""

    min_score: float
    min_coverage: float
    min_score_law: float
    min_coverage_law: float
    min_dense_similarity: float
    min_dense_lexical: float
    min_dense_coverage: float

    @classmethod
    def of(cls, settings: KnowledgeSettings) -> HandSetRule:
        return cls(settings.min_score, settings.min_coverage, settings.min_score_law,
                   settings.min_coverage_law, settings.min_dense_similarity,
                   settings.min_dense_lexical, settings.min_dense_coverage)

    def lexical(self, lex, coverage, law):
        """BM25 and coverage over their minimums (a law's are stricter); scalars or arrays."""
        return np.where(law, (lex >= self.min_score_law) & (coverage >= self.min_coverage_law),
                        (lex >= self.min_score) & (coverage >= self.min_coverage))

    def vouched(self, lex, coverage, dense):
        """The dense leg vouches for a weaker lexical match (NaN: it did not run)."""
        return ((np.nan_to_num(dense, nan=-1.0) >= self.min_dense_similarity)
                & (lex >= self.min_dense_lexical) & (coverage >= self.min_dense_coverage))

    def answerable(self, lex: np.ndarray, coverage: np.ndarray, dense: np.ndarray,
                   law: np.ndarray) -> np.ndarray:
        return self.lexical(lex, coverage, law) | self.vouched(lex, coverage, dense)


@dataclass(frozen=True)
class QuestionCues:
    """What kind of question it is, from the cues of ranking.yml."""

    about_law: bool = False
    about_penalty: bool = False
    about_duration: bool = False
    about_amount: bool = False
    about_procedure: bool = False
    words: int = 0
    glossary_hits: int = 0
    idf_mass: float = 0.0  # the idf of the question's content words, summed
    named_doc: str | None = None


@dataclass(frozen=True)
class PassageTraits:
    """Per-passage arrays of a generation, computed once when it is loaded."""

    kind: np.ndarray  # index into _KINDS
    liability: np.ndarray
    has_amount: np.ndarray
    has_duration: np.ndarray
    has_procedure: np.ndarray
    sentence_no: np.ndarray
    article: np.ndarray  # an id per (doc_id, clause_key)
    doc_ids: np.ndarray

    @classmethod
    def of(cls, passages: list[Passage], documents: dict[str, dict],
           liability_sections: tuple[str, ...], amount_marks: tuple[str, ...],
           duration_marks: tuple[str, ...], procedure_marks: tuple[str, ...]) -> PassageTraits:
        def kind(p: Passage) -> int:
            doc_type = documents.get(p.doc_id, {}).get("doc_type", "")
            return _KINDS.index(doc_type) if doc_type in _KINDS else 0

        def marked(marks: tuple[str, ...]) -> np.ndarray:
            return np.fromiter((any(m in p.text for m in marks) for p in passages), bool,
                               len(passages))

        articles: dict[tuple[str, str], int] = {}
        article = np.fromiter((articles.setdefault((p.doc_id, p.clause_key), len(articles))
                               for p in passages), np.int64, len(passages))
        kinds = np.fromiter((kind(p) for p in passages), np.int64, len(passages))
        liability = np.fromiter(
            (documents.get(p.doc_id, {}).get("doc_type") in LEGISLATION_TYPES
             and any(s in p.section for s in liability_sections) for p in passages),
            bool, len(passages))
        return cls(kinds, liability, marked(amount_marks), marked(duration_marks),
                   marked(procedure_marks),
                   np.fromiter((p.sentence_no for p in passages), np.int64, len(passages)),
                   article, np.asarray([p.doc_id for p in passages], dtype=object))


@dataclass
class LegScores:
    """Every leg's per-passage scores for one question (arrays over the generation's passages)."""

    lexical: np.ndarray  # passage BM25 plus the weighted best anticipated question
    lexical_unit: np.ndarray  # the unit that gave it (the passage itself or a question)
    own: np.ndarray  # the passage's own BM25
    question: np.ndarray  # the best anticipated question's BM25 (unweighted)
    fused: np.ndarray  # the hand-set fusion times the document prior (-inf: not a candidate)
    prior: np.ndarray
    dense: np.ndarray | None = None  # cosine, NaN where not retrieved; None: the leg did not run
    dense_unit: np.ndarray | None = None
    hidden: np.ndarray | None = None  # passages that may not be answers (not in force)
    extra: dict = field(default_factory=dict)


def _ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    ranks = np.full(len(values), RANK_CAP)
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(-values[idx], kind="stable")]
    ranks[order] = np.minimum(np.arange(1, len(order) + 1), RANK_CAP)
    return ranks


def _top(values: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return idx
    return idx[np.argsort(-values[idx], kind="stable")[:k]]


def candidate_ids(legs: LegScores, per_leg: int = CANDIDATES_PER_LEG) -> np.ndarray:
    """The passages some leg put near its top, in no particular order (hidden ones left out)."""
    visible = np.ones(len(legs.lexical), bool) if legs.hidden is None else ~legs.hidden
    parts = [_top(legs.lexical, visible & (legs.lexical > 0), per_leg),
             _top(legs.fused, visible & np.isfinite(legs.fused), per_leg)]
    if legs.dense is not None:
        parts.append(_top(np.nan_to_num(legs.dense, nan=-1.0),
                          visible & ~np.isnan(legs.dense), per_leg))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def word_credits(lexical: LexicalIndex, words: list[tuple[str, list[str]]],
                 covered_by: dict[str, frozenset[str]], units: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each content word of the question (rows) and each unit (columns): how much of the
    word the unit holds (1 when it has the word or a glossary term standing for it, a share for
    a part of a long word), and each word's idf weight. The retriever's coverage, vectorised."""
    credits = np.zeros((len(words), len(units)))
    weights = np.zeros(len(words))
    for row, (word, tokens) in enumerate(words):
        weights[row] = lexical.idf(word)
        full = lexical.membership(word, units)
        for term in covered_by.get(word, ()):
            full |= lexical.membership(term, units)
        credit = full.astype(np.float64)
        for token in tokens:
            if token != word:
                part = lexical.membership(token, units) * (len(token) / len(word))
                credit = np.maximum(credit, part)
        credits[row] = credit
    return credits, weights


def coverage_of(credits: np.ndarray, weights: np.ndarray,
                unit_sets: list[np.ndarray]) -> np.ndarray:
    """Per candidate: the idf-weighted share of the question's words its units hold together."""
    total = weights.sum()
    if total <= 0 or credits.shape[0] == 0:
        return np.zeros(len(unit_sets[0]) if unit_sets else 0)
    best = np.max(np.stack([credits[:, cols] for cols in unit_sets]), axis=0)
    return (weights @ best) / total


def feature_matrix(ids: np.ndarray, legs: LegScores, traits: PassageTraits, cues: QuestionCues,
                   coverage: np.ndarray, coverage_passage: np.ndarray,
                   rule: HandSetRule) -> np.ndarray:
    """One row per candidate, columns in FEATURES order."""
    n = len(legs.lexical)
    visible = np.ones(n, bool) if legs.hidden is None else ~legs.hidden
    lex = legs.lexical
    lex_top = float(lex[visible].max(initial=0.0))
    lex_rank = _ranks(lex, visible & (lex > 0))
    fused_valid = visible & np.isfinite(legs.fused)
    fused_top = float(legs.fused[fused_valid].max(initial=0.0)) if fused_valid.any() else 0.0
    fused_rank = _ranks(np.where(fused_valid, legs.fused, 0.0), fused_valid)
    if legs.dense is not None:
        dense = legs.dense
        dvalid = visible & ~np.isnan(dense)
        dense_top = float(np.nanmax(dense[dvalid])) if dvalid.any() else np.nan
        dense_rank = _ranks(np.nan_to_num(dense, nan=-1.0), dvalid)
        d = dense[ids]
        d_gap = d - dense_top
        d_rank = dense_rank[ids]
        ran = 1.0
    else:
        d = d_gap = np.full(len(ids), np.nan)
        d_rank = np.full(len(ids), RANK_CAP)
        ran = 0.0
    # The best lexical rank any passage of the same article reached, and how many of its
    # passages are candidates: an article found through several sentences is a stronger find.
    art = traits.article[ids]
    article_best: dict[int, float] = {}
    article_count: dict[int, int] = {}
    for a, r in zip(art.tolist(), lex_rank[ids].tolist(), strict=True):
        article_best[a] = min(article_best.get(a, RANK_CAP), r)
        article_count[a] = article_count.get(a, 0) + 1
    order = sorted(article_best.values())
    article_rank = np.array([1 + order.index(article_best[a]) for a in art.tolist()], float)
    cov_top = float(coverage.max(initial=0.0))
    kind = traits.kind[ids]
    named = (traits.doc_ids[ids] == cues.named_doc) if cues.named_doc else np.zeros(len(ids), bool)
    q = np.ones(len(ids))
    cols = {
        "lex": lex[ids], "lex_ratio": lex[ids] / lex_top if lex_top > 0 else 0 * q,
        "lex_rank": lex_rank[ids], "lex_own": legs.own[ids], "lex_question": legs.question[ids],
        "lex_gap": lex[ids] - lex_top,
        "lex_norm": lex[ids] / max(cues.idf_mass, 1e-6),
        "own_norm": legs.own[ids] / max(cues.idf_mass, 1e-6),
        "question_norm": legs.question[ids] / max(cues.idf_mass, 1e-6),
        "dense": d, "dense_gap": d_gap, "dense_rank": d_rank, "dense_ran": ran * q,
        "fused_ratio": (np.where(np.isfinite(legs.fused[ids]), legs.fused[ids], 0.0) / fused_top
                        if fused_top > 0 else 0 * q),
        "fused_rank": fused_rank[ids], "prior": legs.prior[ids],
        "legs_agree": ((lex_rank[ids] <= 3) & (d_rank <= 3)).astype(float),
        "coverage": coverage, "coverage_passage": coverage_passage,
        "coverage_gap": coverage - cov_top,
        "article_lex_rank": article_rank,
        "article_candidates": np.array([article_count[a] for a in art.tolist()], float),
        "sentence_no": traits.sentence_no[ids].astype(float),
        "kind_policy": (kind == 0).astype(float), "kind_law": (kind == 1).astype(float),
        "kind_regulation": (kind == 2).astype(float),
        "kind_ministry_rule": (kind == 3).astype(float),
        "liability": traits.liability[ids].astype(float),
        "has_amount": traits.has_amount[ids].astype(float),
        "has_duration": traits.has_duration[ids].astype(float),
        "has_procedure": traits.has_procedure[ids].astype(float),
        "named_document": named.astype(float),
        "q_law": float(cues.about_law) * q, "q_penalty": float(cues.about_penalty) * q,
        "q_duration": float(cues.about_duration) * q, "q_amount": float(cues.about_amount) * q,
        "q_procedure": float(cues.about_procedure) * q, "q_words": float(cues.words) * q,
        "q_glossary": float(cues.glossary_hits) * q,
        "duration_match": (cues.about_duration & traits.has_duration[ids]).astype(float),
        "amount_match": (cues.about_amount & traits.has_amount[ids]).astype(float),
        "handset_answerable": rule.answerable(
            lex[ids], coverage, d, kind != 0).astype(float),
    }
    return np.column_stack([np.asarray(cols[name], dtype=np.float64) for name in FEATURES])
