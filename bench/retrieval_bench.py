"""Retrieval benchmark: latency per leg, index build time, and cost at 100,000 passages.

    .venv-actions/bin/python bench/retrieval_bench.py [--size 100000] [--skip-synthetic]
                                                      [--queries 200] [--out results/bench]

Not a test: numbers depend on the machine and on what else runs on it (the load average is
recorded). Parts:

1. Real knowledge base (the shipped sources in a temporary home): index build time (BM25 and
   dense), then per-query latency p50/p95 of `Retriever.search` for each leg (bm25, dense, the
   fusion methods, the shipped default) over the project's evaluation questions.
2. Query encoder cost alone (m3e-small), with 1 and with 2 torch threads.
3. SYNTHETIC corpus (clearly marked: doc_id "SYNTHETIC-BENCH", generated from the jieba
   dictionary with Zipf-like word frequencies, NOT policy text): the same pipeline at --size
   passages. Its dense vectors are generated (shared direction + topic clusters + noise, like
   real sentence embeddings) and its query "encoder" is a hash, so the dense numbers there are
   FAISS search + fusion cost only; add part 2's encoder cost for a real model. FAISS flat,
   HNSW and IVF are built and searched on the same vectors to choose the index type.

Writes results/bench/retrieval-<time>.json and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.evaluation.retrieval_eval import load_lines, load_questions_tsv  # noqa: E402
from knowledge.indexing.builder import IndexBuilder  # noqa: E402
from knowledge.indexing.dense_index import FLAT_MAX_DEFAULT, DenseIndex  # noqa: E402
from knowledge.knowledge_base import KnowledgeBase  # noqa: E402
from knowledge.models import Passage  # noqa: E402
from knowledge.retrieval.retriever import Retriever  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402

TARGET_REAL_P95_MS = 20.0
TARGET_100K_P95_MS = 50.0
SYNTHETIC_DOC = "SYNTHETIC-BENCH"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3),
            "p95_ms": round(pct(ms, 0.95), 3), "max_ms": round(max(ms), 3)}


def time_queries(fn, queries: list[str], warmup: int = 5) -> dict:
    for q in queries[:warmup]:
        fn(q)
    ms = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        ms.append(1000 * (time.perf_counter() - t0))
    return summary(ms)


def eval_questions(limit: int) -> list[str]:
    files = [ROOT.parent / "shared/eval/retrieval_dev.tsv",
             ROOT.parent / "shared/eval/retrieval_dev_colloquial.tsv",
             ROOT / "eval/retrieval_heldout.tsv", ROOT / "eval/retrieval_tune.tsv",
             ROOT / "eval/retrieval_heldout_post.tsv"]
    qs = [q.question for f in files if f.exists() for q in load_questions_tsv(f)]
    qs += load_lines(ROOT / "eval/out_of_scope.txt")
    reps = -(-limit // max(1, len(qs)))
    return (qs * reps)[:limit]


# -- part 1 and 2: the real knowledge base -------------------------------------------------
def bench_real(n_queries: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    kb = KnowledgeBase(KnowledgeSettings(home=home))
    t0 = time.perf_counter()
    encoder = kb.encoder
    model_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kb.ingest_sources()
    ingest_s = time.perf_counter() - t0
    manifest = json.loads((kb.settings.index_root / kb.retriever.generation
                           / "manifest.json").read_text(encoding="utf-8"))
    queries = eval_questions(n_queries)
    r = kb.retriever
    legs = {}
    methods = ["bm25"] + (["dense", "rrf", "weighted", "rerank", "rescue"] if encoder else [])
    for m in methods:
        legs[m] = time_queries(lambda q, m=m: r.search(q, 3, fusion=m), queries)
    legs["default(" + r.health()["fusion"] + ")"] = time_queries(lambda q: r.search(q, 3),
                                                                 queries)
    out = {"passages": manifest["passages"], "units": manifest["units"],
           "model_load_s": round(model_load_s, 2), "ingest_s": round(ingest_s, 3),
           "index_build_s": manifest["build_seconds"], "legs_build": manifest["legs"],
           "latency": legs}
    if encoder is not None:
        import torch

        enc = {}
        before = torch.get_num_threads()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            enc[f"threads={threads}"] = time_queries(
                lambda q: encoder.encode_queries([q]), queries)
        torch.set_num_threads(before)
        out["encoder_per_query"] = {"model": encoder.name, **enc}
    return out


# -- part 3: synthetic corpus ---------------------------------------------------------------
class RandomEncoder:
    """Stands in for a model at synthetic scale, at no cost: vectors with the structure of real
    sentence embeddings (a shared direction, topic clusters, noise), so that approximate
    indexes are measured on data that has neighbours. Queries are hashed to a corpus vector
    plus noise."""

    def __init__(self, dim: int = 512, clusters: int = 2000, seed: int = 11) -> None:
        self.dim = dim
        self.name = f"synthetic-clustered:{dim}"
        rng = np.random.default_rng(seed)
        self._shared = _unit(rng.standard_normal(dim))
        self._centroids = _unit(rng.standard_normal((clusters, dim)))
        self._corpus: np.ndarray | None = None

    def _make(self, rng: np.random.Generator, n: int) -> np.ndarray:
        topic = self._centroids[rng.integers(0, len(self._centroids), n)]
        noise = _unit(rng.standard_normal((n, self.dim)))
        return _unit(0.5 * self._shared + 0.7 * topic + 0.5 * noise).astype(np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self._corpus = self._make(np.random.default_rng(len(texts)), len(texts))
        return self._corpus

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        out = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(),
                                  "little")
            rng = np.random.default_rng(seed)
            base = (self._corpus[rng.integers(0, len(self._corpus))] if self._corpus is not None
                    else self._make(rng, 1)[0])
            out.append(_unit(base + 0.6 * _unit(rng.standard_normal(self.dim))))
        return np.asarray(out, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_passages(n: int, tokenizer, seed: int = 7) -> list[Passage]:
    """SYNTHETIC, not policy text: sentences of dictionary words drawn with Zipf-like weights."""
    freq = tokenizer._jieba.FREQ
    words = [w for w, f in freq.items() if f > 0 and 1 < len(w) <= 4]
    weights = np.array([freq[w] for w in words], dtype=np.float64) ** 0.75
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 30, n)
    draws = rng.choice(len(words), size=int(lengths.sum()), p=weights)
    passages, pos = [], 0
    for i, length in enumerate(lengths):
        text = "".join(words[j] for j in draws[pos:pos + length]) + "。"
        pos += length
        clause = f"合成/{i // 5}"
        passages.append(Passage(f"{SYNTHETIC_DOC}@0#{clause}#{i % 5 + 1}", SYNTHETIC_DOC, "0",
                                clause, "合成", i // 5, "合成条目", i % 5 + 1, text,
                                "《SYNTHETIC BENCHMARK CORPUS — not policy text》"))
    return passages


def bench_faiss(vectors: np.ndarray, queries: np.ndarray) -> dict:
    import faiss

    out = {}
    n, dim = vectors.shape
    exact = None
    for kind in ("flat", "hnsw", "ivf"):
        t0 = time.perf_counter()
        if kind == "ivf":
            nlist = max(1, int(4 * np.sqrt(n)))
            quant = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors[: min(n, 50 * nlist)])
            index.add(vectors)
            index.nprobe = 16
            raw = index
        else:
            dense = DenseIndex.build(vectors, kind)
            raw = dense._index
        build_s = time.perf_counter() - t0
        ids_all, ms = [], []
        for q in queries:
            t0 = time.perf_counter()
            _, ids = raw.search(q.reshape(1, -1), 10)
            ms.append(1000 * (time.perf_counter() - t0))
            ids_all.append(ids[0])
        if kind == "flat":
            exact = ids_all
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids_all, exact, strict=True)])
        out[kind] = {"build_s": round(build_s, 2), **summary(ms),
                     "recall@10_vs_flat": round(float(recall), 3)}
    return out


def bench_synthetic(size: int, n_queries: int, encoder_ms_p95: float | None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="kb-bench-synth-"))
    settings = KnowledgeSettings(home=home, dense_model="none")
    kb = KnowledgeBase(settings)
    t0 = time.perf_counter()
    passages = synthetic_passages(size, kb.tokenizer)
    gen_s = time.perf_counter() - t0
    encoder = RandomEncoder()
    out: dict = {"SYNTHETIC": True, "size": size, "generate_s": round(gen_s, 2)}
    t0 = time.perf_counter()
    path = IndexBuilder(settings.index_root, kb.tokenizer, encoder=encoder,
                        dense_index="flat").build(passages)
    out["index_build_s"] = round(time.perf_counter() - t0, 2)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    out["legs_build"] = manifest["legs"]
    t0 = time.perf_counter()
    synthetic = settings.model_copy(update={"dense_model": "synthetic"})
    r = Retriever(synthetic, kb.normalizer, kb.tokenizer, encoder)
    out["load_s"] = round(time.perf_counter() - t0, 2)
    queries = eval_questions(n_queries)
    out["latency"] = {m: time_queries(lambda q, m=m: r.search(q, 3, fusion=m), queries)
                      for m in ("bm25", "dense", "weighted", "rescue")}
    vectors = np.ascontiguousarray(r._generation.dense._index.reconstruct_n(0, size))
    qv = encoder.encode_queries([f"bench query {i}" for i in range(100)])
    out["faiss"] = bench_faiss(vectors, qv)
    if encoder_ms_p95 is not None:
        out["real_encoder_p95_ms_add"] = encoder_ms_p95
    return out


def choose_index(synth: dict, encoder_p95: float) -> dict:
    """Flat while the whole pipeline stays under the 100k target; the size where it would not."""
    flat = synth["faiss"]["flat"]["p95_ms"]
    rest = synth["latency"]["weighted"]["p95_ms"] - flat  # pipeline without the FAISS search
    budget = TARGET_100K_P95_MS - encoder_p95 - max(rest, 0.0)
    per_vector = flat / synth["size"]
    limit = int(budget / per_vector) if per_vector > 0 and budget > 0 else 0
    return {"flat_p95_ms_at_size": flat, "pipeline_without_search_p95_ms": round(rest, 2),
            "encoder_p95_ms": encoder_p95, "budget_for_search_ms": round(budget, 2),
            "flat_fits_up_to_vectors": limit,
            "configured_dense_flat_max": FLAT_MAX_DEFAULT,
            "choice_at_size": "flat" if limit >= synth["size"] else "hnsw"}


def print_table(report: dict) -> None:
    real = report["real"]
    print(f"\nReal knowledge base: {real['passages']} passages, {real['units']} units;"
          f" model load {real['model_load_s']} s; ingest {real['ingest_s']} s"
          f" (index build {real['index_build_s']} s)")
    print(f"  {'leg':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   target p95 < "
          f"{TARGET_REAL_P95_MS} ms")
    for leg, s in real["latency"].items():
        print(f"  {leg:<22}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['max_ms']:>9.2f}")
    for k, s in (real.get("encoder_per_query") or {}).items():
        if k != "model":
            print(f"  encoder alone {k:<8}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}"
                  f"{s['max_ms']:>9.2f}")
    synth = report.get("synthetic")
    if synth:
        print(f"\nSYNTHETIC corpus ({synth['size']} generated passages, clustered vectors):"
              f" build {synth['index_build_s']} s, load {synth['load_s']} s")
        print(f"  {'leg (no model cost)':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
              f"   target p95 < {TARGET_100K_P95_MS} ms incl. encoder")
        for leg, s in synth["latency"].items():
            print(f"  {leg:<22}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['max_ms']:>9.2f}")
        print(f"  {'FAISS index':<22}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}{'recall@10':>11}")
        for kind, s in synth["faiss"].items():
            print(f"  {kind:<22}{s['build_s']:>9.2f}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}"
                  f"{s['recall@10_vs_flat']:>11.3f}")
        if "index_choice" in report:
            c = report["index_choice"]
            print(f"  choice: {c['choice_at_size']} at {synth['size']};"
                  f" flat fits the budget up to ~{c['flat_fits_up_to_vectors']:,} vectors"
                  " (auto switches to HNSW past"
                  f" dense_flat_max={c['configured_dense_flat_max']:,})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="retrieval benchmark (not a test)")
    ap.add_argument("--size", type=int, default=100_000, help="synthetic corpus size")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    report: dict = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "cpus": os.cpu_count(), "load_average_before": os.getloadavg(),
                    "dense_threads": KnowledgeSettings().dense_threads}
    report["real"] = bench_real(args.queries)
    enc = report["real"].get("encoder_per_query") or {}
    enc_p95 = min((v["p95_ms"] for k, v in enc.items() if k != "model"), default=None)
    if not args.skip_synthetic:
        report["synthetic"] = bench_synthetic(args.size, args.queries, enc_p95)
        report["index_choice"] = choose_index(report["synthetic"], enc_p95 or 0.0)
    report["load_average_after"] = os.getloadavg()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"retrieval-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print_table(report)
    print(f"\nload average {report['load_average_before']} -> {report['load_average_after']};"
          f" {report['wall_s']} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
