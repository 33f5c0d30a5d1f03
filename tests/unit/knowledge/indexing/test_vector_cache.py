"""The vector cache: a fresh home takes its vectors from the cache instead of encoding them,
exactly (bit for bit); another model never shares them; a broken cache only means encoding."""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from knowledge.indexing import IndexBuilder
from knowledge.indexing.dense_index import DenseIndex
from knowledge.indexing.generation import MANIFEST
from knowledge.indexing.vector_cache import (
    DATABASE,
    VectorCache,
    encode_with_cache,
    model_slug,
    open_vector_cache,
)
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.settings import KnowledgeSettings
from tests.unit.knowledge.indexing.test_builder import CountingEncoder, passage

PASSAGES = [passage(1, "企业应当依法排污。"), passage(2, "提前1至2天发布预警。"),
            passage(3, "重污染天气应急减排清单每年更新。")]


class OtherEncoder(CountingEncoder):
    name = "another-test-encoder"

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return -super().encode_passages(texts)

    encode_queries = encode_passages


@functools.cache
def tokenizer() -> ChineseTokenizer:
    return ChineseTokenizer()


def build(home: Path, encoder, cache: VectorCache | None) -> tuple[dict, np.ndarray]:
    gen = IndexBuilder(home / "index", tokenizer(), encoder=encoder,
                       vector_cache=cache).build(PASSAGES)
    leg = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))["legs"]["dense"]
    return leg, DenseIndex.load(gen / "dense").vectors(np.arange(len(PASSAGES)))


def random_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_a_fresh_home_takes_every_vector_from_the_cache(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "cache")
    first = CountingEncoder()
    leg1, vectors1 = build(tmp_path / "home1", first, cache)
    assert len(first.encoded) == 3
    assert (leg1["encoded"], leg1["cached"], leg1["reused"]) == (3, 0, 0)

    second = CountingEncoder()
    leg2, vectors2 = build(tmp_path / "home2", second, cache)
    assert second.encoded == []
    assert (leg2["encoded"], leg2["cached"], leg2["reused"]) == (0, 3, 0)
    assert vectors2.tobytes() == vectors1.tobytes()  # bit-identical to an encoded build


def test_the_live_generation_comes_first_and_only_new_texts_are_encoded(
        tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "cache")
    build(tmp_path / "warm", CountingEncoder(), cache)
    encoder = CountingEncoder()
    builder = IndexBuilder(tmp_path / "home" / "index", tokenizer(), encoder=encoder,
                           vector_cache=cache)
    builder.build(PASSAGES[:1])  # from the cache
    gen = builder.build([*PASSAGES, passage(4, "新增的一条。")])
    leg = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))["legs"]["dense"]
    assert encoder.encoded == ["新增的一条。"]
    assert (leg["reused"], leg["cached"], leg["encoded"]) == (1, 2, 1)


def test_another_encoder_does_not_share_vectors(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "cache")
    build(tmp_path / "home1", CountingEncoder(), cache)
    other = OtherEncoder()
    leg, vectors = build(tmp_path / "home2", other, cache)
    assert len(other.encoded) == 3 and leg["cached"] == 0
    np.testing.assert_array_equal(vectors, other.encode_passages([p.text for p in PASSAGES]))
    assert cache.model_dir(CountingEncoder.name) != cache.model_dir(OtherEncoder.name)
    assert cache.get_many("no-such-model", [p.text for p in PASSAGES]) == {}


def test_round_trip_is_bit_identical_and_misses_are_absent(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    vectors = random_vectors(3)
    vectors[0, 0] = np.float32(1e-45)  # a denormal survives too
    assert cache.put_many("m", ["a", "b", "c"], vectors) == 3
    assert cache.put_many("m", ["a", "b"], vectors[:2] + 1) == 0  # first vector stays
    got = cache.get_many("m", ["c", "a", "zzz", "b"])
    assert set(got) == {"a", "b", "c"}
    for i, text in enumerate("abc"):
        assert got[text].dtype == np.float32 and got[text].tobytes() == vectors[i].tobytes()
    assert cache.get_many("m", ["a"], dim=9) == {}  # another dim: not this encoder's
    manifest = json.loads((cache.model_dir("m") / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == {"format": 1, "model": "m", "dim": 8, "dtype": "<f4"}


def test_encode_with_cache_encodes_only_the_misses(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    encoder = CountingEncoder()
    found, cached = encode_with_cache(encoder.encode_passages, encoder.name,
                                      ["甲", "乙", "甲"], cache)
    assert (cached, encoder.encoded, sorted(found)) == (0, ["甲", "乙"], ["乙", "甲"])
    encoder.encoded.clear()
    found, cached = encode_with_cache(encoder.encode_passages, encoder.name, ["乙", "丙"], cache)
    assert (cached, encoder.encoded) == (1, ["丙"])


@pytest.mark.parametrize("damage", ["garbage", "scrambled", "manifest"])
def test_a_corrupt_cache_falls_back_to_encoding(tmp_path: Path, damage: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    cache = VectorCache(tmp_path / "cache")
    _leg, expected = build(tmp_path / "home1", CountingEncoder(), cache)
    directory = cache.model_dir(CountingEncoder.name)
    if damage == "garbage":
        (directory / DATABASE).write_bytes(b"this is not a database" * 100)
    elif damage == "scrambled":  # the schema page intact, the table's pages not
        data = (directory / DATABASE).read_bytes()
        (directory / DATABASE).write_bytes(data[:4096] + b"\xab" * (len(data) - 4096))
    else:
        (directory / "manifest.json").write_text("{not json", encoding="utf-8")
    encoder = CountingEncoder()
    with caplog.at_level(logging.WARNING, logger="knowledge.indexing.vector_cache"):
        leg, vectors = build(tmp_path / "home2", encoder, cache)
    assert len(encoder.encoded) == 3 and leg["cached"] == 0
    assert vectors.tobytes() == expected.tobytes()
    assert "vector cache" in caplog.text
    # ... and the cache is whole again afterwards
    again = CountingEncoder()
    leg, _ = build(tmp_path / "home3", again, cache)
    assert again.encoded == [] and leg["cached"] == 3


def test_an_unusable_cache_directory_is_not_a_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    cache = VectorCache(blocker / "cache")  # a file where a directory should be
    encoder = CountingEncoder()
    leg, _ = build(tmp_path / "home", encoder, cache)
    assert len(encoder.encoded) == 3 and leg["cached"] == 0
    assert cache.put_many("m", ["a"], random_vectors(1)) == 0


def test_concurrent_writers_from_threads_lose_nothing(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    texts = [f"文本{i}" for i in range(400)]
    vectors = random_vectors(len(texts))
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for start in range(offset, len(texts), 40):
                cache.put_many("m", texts[start:start + 20], vectors[start:start + 20])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(o,)) for o in (0, 20, 0, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = VectorCache(tmp_path).get_many("m", texts)
    assert len(got) == len(texts)
    assert all(got[t].tobytes() == vectors[i].tobytes() for i, t in enumerate(texts))


def _write_in_process(root: str, offset: int) -> None:
    texts = [f"文本{i}" for i in range(300)]
    vectors = random_vectors(len(texts))
    cache = VectorCache(root)
    for start in range(offset, len(texts), 20):
        assert cache.put_many("m", texts[start:start + 10], vectors[start:start + 10]) >= 0


def test_concurrent_writers_from_processes_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_in_process, args=(str(tmp_path), o))
                 for o in (0, 10, 0)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    texts = [f"文本{i}" for i in range(300)]
    vectors = random_vectors(len(texts))
    got = VectorCache(tmp_path).get_many("m", texts)
    assert len(got) == len(texts)
    assert all(got[t].tobytes() == vectors[i].tobytes() for i, t in enumerate(texts))


@pytest.mark.parametrize("model", ["../../x", "/etc/passwd", "..", ".", "", "a/../../b\0c",
                                   "模型:名字?*", "x" * 500])
def test_a_hostile_model_name_stays_inside_the_root(tmp_path: Path, model: str) -> None:
    root = tmp_path / "root"
    cache = VectorCache(root)
    assert cache.put_many(model, ["a"], random_vectors(1)) == 1
    assert cache.model_dir(model).parent == root
    assert sorted(p.parent for p in tmp_path.rglob("*") if p.is_file()) == \
        [cache.model_dir(model)] * 2
    assert cache.get_many(model, ["a"])["a"].tobytes() == random_vectors(1)[0].tobytes()
    assert len(model_slug(model)) <= 60 and "/" not in model_slug(model)


def test_names_that_slug_alike_stay_apart(tmp_path: Path) -> None:
    assert model_slug("a/b") != model_slug("a_b") != model_slug("a?b")


def test_files_are_private(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "deep" / "root")
    cache.put_many("m", ["a"], random_vectors(1))
    for path in (tmp_path / "deep", tmp_path / "deep" / "root", cache.model_dir("m")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in cache.model_dir("m").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_settings_default_outside_the_checkout_and_empty_disables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_VECTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert KnowledgeSettings().vector_cache_dir == str(tmp_path / "xdg" / "policy-assistant"
                                                       / "vectors")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert KnowledgeSettings().vector_cache_dir == str(tmp_path / "home" / ".cache"
                                                       / "policy-assistant" / "vectors")
    monkeypatch.setenv("KB_VECTOR_CACHE_DIR", "")
    assert open_vector_cache(KnowledgeSettings().vector_cache_dir) is None
    monkeypatch.setenv("KB_VECTOR_CACHE_DIR", str(tmp_path / "c"))
    cache = open_vector_cache(KnowledgeSettings().vector_cache_dir)
    assert cache is not None and cache.root == tmp_path / "c"
