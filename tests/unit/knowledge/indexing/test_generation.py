"""An index generation writes its own directory and reads it back as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.indexing import (
    DenseIndex,
    IndexGeneration,
    IndexUnit,
    LexicalIndex,
    current_generation,
)
from knowledge.indexing.anticipated import PASSAGE, QUESTION
from knowledge.indexing.generation import MANIFEST, point_current_to, read_manifest
from knowledge.models import Passage


def _passage(n: int, text: str) -> Passage:
    return Passage(f"p{n}", "doc", "2019", f"工作任务/{n}", "工作任务", n, "标题", 1, text,
                   f"《意见》工作任务 第{n}条")


@pytest.fixture()
def generation() -> IndexGeneration:
    passages = [_passage(1, "开通绿色通道，优化审批服务流程"), _passage(2, "提前发布预警信息")]
    units = [IndexUnit(PASSAGE, p.index_text(), (i,)) for i, p in enumerate(passages)]
    units.append(IndexUnit(QUESTION, "审批能快点吗", (0,)))
    tokens = [["绿色通道", "审批"], ["预警", "发布"], ["审批", "快"]]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"generation": "gen-test", "legs": {"dense": {"model": "test-model"}}}
    return IndexGeneration(passages, units, LexicalIndex.build(tokens), manifest,
                           DenseIndex.build(vectors, "flat"))


def test_round_trip_keeps_every_part(tmp_path: Path, generation: IndexGeneration) -> None:
    generation.save(tmp_path / "gen-test")
    loaded = IndexGeneration.load(tmp_path / "gen-test", dense_model="test-model")
    assert loaded.passages == generation.passages and loaded.units == generation.units
    assert loaded.name == "gen-test" and loaded.dense_model == "test-model"
    assert np.allclose(loaded.lexical.scores(["审批"]), generation.lexical.scores(["审批"]))
    ids = np.arange(3, dtype=np.int64)
    assert np.allclose(loaded.dense.vectors(ids), generation.dense.vectors(ids))
    manifest = read_manifest(tmp_path / "gen-test")
    assert manifest["legs"]["bm25"]["path"] and manifest["legs"]["dense"]["status"] == "on"


def test_dense_vectors_of_another_model_are_not_loaded(tmp_path: Path,
                                                       generation: IndexGeneration) -> None:
    generation.save(tmp_path / "g")
    assert IndexGeneration.load(tmp_path / "g", dense_model="other-model").dense is None
    assert IndexGeneration.load(tmp_path / "g").dense is None


def test_a_generation_without_dense_vectors(tmp_path: Path, generation: IndexGeneration) -> None:
    lexical_only = IndexGeneration(generation.passages, generation.units, generation.lexical,
                                   {"generation": "g", "legs": {"dense": {"status": "off"}}})
    lexical_only.save(tmp_path / "g")
    loaded = IndexGeneration.load(tmp_path / "g", dense_model="test-model")
    assert loaded.dense is None and loaded.dense_model is None
    assert not (tmp_path / "g" / "dense").exists()


def test_save_refuses_an_existing_directory(tmp_path: Path, generation: IndexGeneration) -> None:
    (tmp_path / "g").mkdir()
    with pytest.raises(FileExistsError):
        generation.save(tmp_path / "g")


def test_current_pointer_names_the_live_generation(tmp_path: Path,
                                                   generation: IndexGeneration) -> None:
    assert current_generation(tmp_path) is None
    generation.save(tmp_path / "gen-a")
    point_current_to(tmp_path, "gen-a")
    assert current_generation(tmp_path) == tmp_path / "gen-a"
    (tmp_path / "gen-a" / MANIFEST).unlink()  # a generation without a manifest is not served
    assert current_generation(tmp_path) is None
