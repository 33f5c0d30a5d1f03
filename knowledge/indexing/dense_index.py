"""FAISS inner-product index over L2-normalised vectors (so scores are cosines).

The index type follows bench/retrieval_bench.py (results in docs/retrieval.md): an exact
flat index while the corpus is small enough for it to answer within the latency target, an
HNSW graph past that. ``kind="auto"`` applies that rule with the ``flat_max`` threshold.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

INDEX_FILE = "index.faiss"
FLAT_MAX_DEFAULT = 200_000
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 64


def choose_kind(n: int, kind: str = "auto", flat_max: int = FLAT_MAX_DEFAULT) -> str:
    if kind in ("flat", "hnsw"):
        return kind
    return "flat" if n <= flat_max else "hnsw"


class DenseIndex:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto",
              flat_max: int = FLAT_MAX_DEFAULT) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if choose_kind(n, kind, flat_max) == "flat":
            index: faiss.Index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        # Building is offline (ingest): use every core, then restore the per-query setting.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(threads)
        return cls(index)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self._index, faiss.IndexHNSW) else "flat"

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / INDEX_FILE))

    @classmethod
    def load(cls, directory: Path) -> DenseIndex:
        return cls(faiss.read_index(str(directory / INDEX_FILE)))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, cosines) for one normalised query vector."""
        k = max(1, min(k, self.size))
        sims, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1),
                                                            dtype=np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], sims[0][keep]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of the given ids."""
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosines between the query and the given stored vectors."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        vectors = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return vectors @ query.reshape(-1).astype(np.float32)
