"""Ways to combine the BM25 and dense rankings of the passages of one query.

Every function takes per-passage arrays: ``lex`` (BM25, 0 where nothing matched) and
``dense`` (cosine, NaN where the dense leg did not retrieve the passage), and returns a
score per passage (higher is better, -inf for passages that are not candidates). Where BM25
alone ranks, the scores are BM25's; scores of the fused rankings lie in [0, 1]. Either way the
ratio between two hits of one result says how close they are.

Measured on this project's sets (docs/retrieval.md, bench/retrieval_ablation.py): plain
reciprocal rank fusion loses BM25's precision on ordinary questions; `rescue`, which keeps
BM25's ranking where its evidence is strong and fuses only where it is weak, is the default.
"""

from __future__ import annotations

import numpy as np

# "learned": the legs as for rescue, then the generation's learned ranker (retrieval/ranker.py)
# re-ranks the candidates; without a ranker it is rescue.
METHODS = ("bm25", "dense", "rrf", "weighted", "rerank", "rescue", "learned")


def _ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """1-based rank among valid entries (ties in document order); inf elsewhere."""
    ranks = np.full(len(values), np.inf)
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(-values[idx], kind="stable")]
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def bm25_only(lex: np.ndarray) -> np.ndarray:
    return np.where(lex > 0, lex, -np.inf)


def dense_only(dense: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(dense), -np.inf, dense)


def rrf(lex: np.ndarray, dense: np.ndarray, k: float = 60.0, weight: float = 0.5) -> np.ndarray:
    """Reciprocal rank fusion, each leg weighted; normalised so the best possible is 1."""
    r_lex = _ranks(lex, lex > 0)
    r_dense = _ranks(np.nan_to_num(dense, nan=-1.0), ~np.isnan(dense))
    score = (1 - weight) * (k + 1) / (k + r_lex) + weight * (k + 1) / (k + r_dense)
    return np.where(np.isfinite(r_lex) | np.isfinite(r_dense), score, -np.inf)


def _normalised_legs(lex: np.ndarray, dense: np.ndarray,
                     mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    top = lex.max(initial=0.0)
    lex_n = lex / top if top > 0 else np.zeros_like(lex)
    valid = ~np.isnan(dense) if mask is None else (~np.isnan(dense) & mask)
    dense_n = np.zeros_like(lex, dtype=np.float64)
    if valid.any():
        lo, hi = np.nanmin(dense[valid]), np.nanmax(dense[valid])
        span = hi - lo
        dense_n[valid] = (dense[valid] - lo) / span if span > 1e-9 else 1.0
    return lex_n, dense_n


def weighted(lex: np.ndarray, dense: np.ndarray, weight: float = 0.3) -> np.ndarray:
    """(1-w) * BM25/max(BM25) + w * min-max(cosine) over the passages either leg found."""
    lex_n, dense_n = _normalised_legs(lex, dense)
    candidates = (lex > 0) | ~np.isnan(dense)
    return np.where(candidates, (1 - weight) * lex_n + weight * dense_n, -np.inf)


def rerank(lex: np.ndarray, dense: np.ndarray, weight: float = 0.3,
           depth: int = 10) -> np.ndarray:
    """Dense re-ranking of BM25's top `depth` candidates; dense-only finds follow below them.

    Within the candidates the score is the weighted fusion; passages BM25 did not find come
    after every candidate, in dense order (scores in [0, 0.5) so they never outrank one).
    """
    positive = np.flatnonzero(lex > 0)
    if len(positive) == 0:
        return _tail(dense, np.zeros(len(lex), dtype=bool))
    top = positive[np.argsort(-lex[positive], kind="stable")[:depth]]
    mask = np.zeros(len(lex), dtype=bool)
    mask[top] = True
    lex_n, dense_n = _normalised_legs(np.where(mask, lex, 0.0), dense, mask)
    head = 0.5 + 0.5 * ((1 - weight) * lex_n + weight * dense_n)
    return np.where(mask, head, _tail(dense, mask))


def _tail(dense: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Passages only the dense leg found, in cosine order, scored below 0.5."""
    out = np.full(len(dense), -np.inf)
    valid = ~np.isnan(dense) & ~taken
    if valid.any():
        out[valid] = 0.5 * np.clip(dense[valid], 0.0, 0.999)
    return out


def rescue(lex: np.ndarray, dense: np.ndarray | None, lexical_strong: bool,
           weight: float = 0.3) -> np.ndarray:
    """BM25 alone (its own scores) when its evidence is strong; the weighted fusion when weak.

    The retriever does not even encode the query when BM25 is strong, so this is where the
    dense leg costs nothing on ordinary questions.
    """
    if lexical_strong or dense is None:
        return bm25_only(lex)
    return weighted(lex, dense, weight)


def fuse(method: str, lex: np.ndarray, dense: np.ndarray | None, *, weight: float = 0.3,
         rrf_k: float = 60.0, depth: int = 10, lexical_strong: bool = True) -> np.ndarray:
    """Dispatches on the method name; without a dense leg every method is BM25 alone."""
    if method == "dense":
        return dense_only(dense) if dense is not None else np.full(len(lex), -np.inf)
    if dense is None or method == "bm25":
        return bm25_only(lex)
    if method == "rrf":
        return rrf(lex, dense, rrf_k, weight)
    if method == "weighted":
        return weighted(lex, dense, weight)
    if method == "rerank":
        return rerank(lex, dense, weight, depth)
    if method in ("rescue", "learned"):
        return rescue(lex, dense, lexical_strong, weight)
    raise ValueError(f"unknown fusion method {method!r}; one of {', '.join(METHODS)}")
