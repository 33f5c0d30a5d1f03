"""A publish re-encodes only new or reworded units: vectors of unchanged ones are reused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from knowledge.indexing import IndexBuilder, current_generation
from knowledge.indexing.generation import MANIFEST
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import Passage


class CountingEncoder:
    name = "counting-test-encoder"
    dim = 8

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:32], dtype=np.uint8)[:8]
                for t in texts]
        v = np.asarray(rows, dtype=np.float32) + 1.0
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    encode_queries = encode_passages


def passage(n: int, text: str) -> Passage:
    return Passage(f"d@1#s/{n}#1", "d", "1", f"s/{n}", "s", n, "", 1, text, f"《d》s 第{n}条")


def test_unchanged_units_are_not_encoded_again(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    builder = IndexBuilder(tmp_path, ChineseTokenizer(), encoder=encoder)
    first = [passage(1, "企业应当依法排污。"), passage(2, "提前1至2天发布预警。")]
    gen1 = builder.build(first)
    assert len(encoder.encoded) == 2
    encoder.encoded.clear()
    second = [first[0], passage(2, "提前2至3天发布预警。"), passage(3, "新增的一条。")]
    gen2 = builder.build(second)
    assert encoder.encoded == ["提前2至3天发布预警。", "新增的一条。"]
    leg = json.loads((gen2 / MANIFEST).read_text(encoding="utf-8"))["legs"]["dense"]
    assert (leg["encoded"], leg["cached"], leg["reused"]) == (2, 0, 1)  # no vector cache given
    assert current_generation(tmp_path) == gen2 and gen1.exists()
    from knowledge.indexing.dense_index import DenseIndex
    vectors = DenseIndex.load(gen2 / "dense").vectors(np.arange(3))
    np.testing.assert_allclose(vectors, encoder.encode_passages(
        [p.text for p in second]), rtol=1e-5, atol=1e-6)


def test_a_fresh_home_with_a_vector_cache_encodes_nothing_again(tmp_path: Path) -> None:
    """The whole corpus is not re-encoded for every new home (tests, CI): the vector cache
    (vector_cache.py, tested in test_vector_cache.py) gives the vectors, bit for bit."""
    from knowledge.indexing.dense_index import DenseIndex
    from knowledge.indexing.vector_cache import VectorCache

    cache = VectorCache(tmp_path / "vectors")
    passages = [passage(1, "企业应当依法排污。"), passage(2, "提前1至2天发布预警。"),
                passage(3, "企业应当依法排污。")]  # one text, two units
    built = []
    for home in ("a", "b"):
        encoder = CountingEncoder()
        gen = IndexBuilder(tmp_path / home, ChineseTokenizer(), encoder=encoder,
                           vector_cache=cache).build(passages)
        leg = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))["legs"]["dense"]
        built.append((len(encoder.encoded), leg["encoded"], leg["cached"], leg["reused"],
                      DenseIndex.load(gen / "dense").vectors(np.arange(3)).tobytes()))
    assert built[0][:4] == (2, 2, 0, 1) and built[1][:4] == (0, 0, 2, 1)
    assert built[0][4] == built[1][4]
