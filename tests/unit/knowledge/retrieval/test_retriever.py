"""Retrieval with BM25 alone (no model needed): quality floors, glossary, anticipated questions,
bad queries, health. The dense leg and the shipped default are in test_retrieval_dense.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.evaluation.retrieval_eval import Evaluator, load_questions_tsv
from knowledge.indexing.anticipated import AnticipatedQuestion, build_units, load_questions
from knowledge.knowledge_base import KnowledgeBase
from knowledge.retrieval.fusion import fuse, rerank, rescue, rrf, weighted
from knowledge.retrieval.query_analyzer import Glossary, QueryAnalyzer
from knowledge.retrieval.retriever import Retriever
from knowledge.settings import KnowledgeSettings
from tests.conftest import PROJECT_ROOT

ROOT = PROJECT_ROOT
SHARED_EVAL = ROOT.parent / "shared" / "eval"
DEV = SHARED_EVAL / "retrieval_dev.tsv"
COLLOQUIAL = SHARED_EVAL / "retrieval_dev_colloquial.tsv"
HELDOUT = ROOT / "eval" / "retrieval_heldout.tsv"
needs_dev = pytest.mark.skipif(not DEV.exists(), reason="../shared/eval is not checked out")


@pytest.fixture(scope="module")
def bm25_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The opinion alone with the dense leg switched off."""
    kb = KnowledgeBase(KnowledgeSettings(home=tmp_path_factory.mktemp("kb-bm25"),
                                         dense_model="none", related_sources=False))
    kb.ingest_sources()
    return kb


@pytest.fixture(scope="module")
def retriever(bm25_kb: KnowledgeBase) -> Retriever:
    return bm25_kb.retriever


def _metrics(retriever: Retriever, path: Path, method: str | None = None) -> dict:
    return Evaluator(retriever).evaluate(load_questions_tsv(path), method)


# -- quality floors ------------------------------------------------------------------------
@needs_dev
def test_dev_set_bm25_alone(retriever: Retriever) -> None:
    m = _metrics(retriever, DEV, "bm25")
    assert m["hit@3"] >= 0.9, m
    assert m["hit@1"] >= 0.9, m


@needs_dev
def test_colloquial_set_bm25_with_glossary_and_questions(retriever: Retriever) -> None:
    m = _metrics(retriever, COLLOQUIAL, "bm25")
    assert m["hit@1"] >= 0.75, m
    assert m["hit@3"] >= 0.9, m


def test_own_heldout_set_bm25(retriever: Retriever) -> None:
    m = _metrics(retriever, HELDOUT, "bm25")
    assert m["hit@1"] >= 0.85, m
    assert m["hit@3"] >= 0.9, m


def test_without_a_model_the_default_is_bm25_and_health_says_so(retriever: Retriever) -> None:
    health = retriever.health()
    assert health["legs"] == {"bm25": True, "dense": False}
    assert health["fusion"] == "bm25"
    assert "off" in health["dense"]["status"]
    result = retriever.search("冬天限产怎么搞")
    assert result.fusion == "bm25" and result.legs == ("bm25",)


# -- the passage is the sentence; the citation names section and item ----------------------
def test_electricity_price_question_gets_the_sentence_and_item(retriever: Retriever) -> None:
    result = retriever.search("电费能不能便宜点")
    top = result.hits[0].passage
    assert "差别化电价" in top.text
    assert top.item_title == "制定正向鼓励清单"
    assert "工作任务 第1条" in top.citation
    assert result.answerable


# -- glossary ------------------------------------------------------------------------------
def test_glossary_expands_colloquial_words(retriever: Retriever) -> None:
    result = retriever.search("冬天限产怎么搞")
    phrases = {g["phrase"] for g in result.details["glossary"]}
    assert {"冬天", "限产"} <= phrases
    assert "错峰生产" in result.hits[0].passage.text


def test_spacy_matcher_respects_word_boundaries(bm25_kb: KnowledgeBase) -> None:
    glossary = Glossary(synonyms={"用电": ("差别化电价",)})
    spacy_an = QueryAnalyzer(bm25_kb.normalizer, bm25_kb.tokenizer, glossary, "spacy")
    substring = QueryAnalyzer(bm25_kb.normalizer, bm25_kb.tokenizer, glossary, "substring")
    assert spacy_an.matcher_name == "spacy"
    assert [h.key for h in spacy_an.analyze("工业用电贵不贵").glossary_hits] == ["用电"]
    # "使用电脑" contains the characters 用电 but not the word
    assert spacy_an.analyze("办公室使用电脑").glossary_hits == []
    assert [h.key for h in substring.analyze("办公室使用电脑").glossary_hits] == ["用电"]


def test_glossary_chains_resolve(bm25_kb: KnowledgeBase) -> None:
    glossary = Glossary.load(bm25_kb.settings.data_dir / "glossary.yml")
    assert {"手续不全", "环评", "排污许可"} <= set(glossary.expand("证件"))


# -- anticipated questions -----------------------------------------------------------------
def test_anticipated_questions_map_back_to_real_passages(bm25_kb: KnowledgeBase,
                                                         retriever: Retriever) -> None:
    questions, problems = load_questions(bm25_kb.settings.questions_path)
    assert questions and not problems
    texts = {q.question for q in questions}
    stored = {p.passage_id for p in bm25_kb.store.passages()}
    for q in ["环评手续不全的企业会被关吗", "环保有没有税收优惠", "偷排偷放会被查处吗"]:
        assert q in texts
        result = retriever.search(q)
        assert result.answerable
        for hit in result.hits:  # the answer is always the policy's own sentence
            assert hit.passage.passage_id in stored
            assert hit.passage.text not in texts
        assert q in result.details["matched_questions"]


def test_anchor_pins_the_sentence_and_bad_entries_are_reported(bm25_kb: KnowledgeBase) -> None:
    passages = bm25_kb.store.passages()
    doc = passages[0].doc_id
    units, problems = build_units(passages, [
        AnticipatedQuestion(doc, "工作原则/2", "手续不全会被关吗", "手续不全"),
        AnticipatedQuestion(doc, "工作原则/2", "分类管控是什么"),
        AnticipatedQuestion(doc, "工作原则/99", "没有这一条"),
        AnticipatedQuestion(doc, "工作原则/2", "锚点错了", "不存在的短语"),
    ])
    pinned, clause, wrong_anchor = units[len(passages):]
    assert len(pinned.targets) == 1 and "手续不全" in passages[pinned.targets[0]].text
    assert len(clause.targets) == 4  # the four sentences of 工作原则 第2条
    assert len(wrong_anchor.targets) == 4
    assert any("工作原则/99" in p for p in problems)
    assert any("不存在的短语" in p for p in problems)


def test_staff_add_a_question_without_retraining(tmp_path: Path, bm25_kb: KnowledgeBase) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("glossary.yml", "stopwords.txt", "normalization.yml"):
        (data / name).write_text((bm25_kb.settings.data_dir / name).read_text(encoding="utf-8"),
                                 encoding="utf-8")
    settings = bm25_kb.settings.model_copy(update={"home": tmp_path / "kb", "data_dir": data})
    kb = KnowledgeBase(settings)
    kb.ingest_sources()
    question = "蓝天保卫战期间咋安排生产"  # no word in common with the clause text
    before = kb.retriever.search(question)
    (data / "anticipated_questions.yml").write_text(
        "hebei-differentiated-control-opinion:\n  工作任务/3:\n    - " + question + "\n",
        encoding="utf-8")
    kb.rebuild_index()
    kb.retriever.reload(force=True)
    after = kb.retriever.search(question)
    assert not (before.hits and before.hits[0].passage.clause_key == "工作任务/3"
                and before.answerable)
    assert after.hits[0].passage.clause_key == "工作任务/3"
    assert after.answerable


# -- bad queries: a clear result, never an exception ----------------------------------------
@pytest.mark.parametrize("query, problem", [
    ("", "empty query"),
    ("   \n\t ", "empty query"),
    ("😀😀🎉", "no content words"),
    ("？？？！！。。。", "no content words"),
    ("……——", "no content words"),
])
def test_queries_without_content_are_not_answerable(retriever: Retriever, query: str,
                                                    problem: str) -> None:
    result = retriever.search(query)
    assert result.hits == [] and not result.answerable
    assert result.reason == problem


@pytest.mark.parametrize("query", [
    "电价" * 2500,  # 5000 characters
    "企" * 5000,
    "What is 错峰生产 policy?",
    "hello world",
    "SELECT * FROM passages; DROP TABLE passages;--",
    "\x00\x01控制字符",
    "错峰生产\u200b清单",
])
def test_odd_queries_return_a_result(retriever: Retriever, query: str) -> None:
    result = retriever.search(query)
    assert isinstance(result.answerable, bool)
    assert isinstance(result.reason, str) and result.reason


def test_long_query_is_truncated_not_rejected(retriever: Retriever) -> None:
    result = retriever.search("差别化电价" * 1000)
    assert result.details.get("truncated_to") == retriever.settings.max_query_chars
    assert "差别化电价" in result.hits[0].passage.text


def test_mixed_english_still_finds_the_clause(retriever: Retriever) -> None:
    result = retriever.search("请问VOCs超标排放会被严查吗")
    assert "超标排放" in result.hits[0].passage.text


@pytest.mark.parametrize("top_k", [None, 0, -3, 1, 500, "2"])
def test_odd_top_k(retriever: Retriever, top_k) -> None:
    result = retriever.search("错峰生产", top_k)
    assert 1 <= len(result.hits) <= 50


def test_unknown_fusion_method_is_an_error(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        retriever.search("错峰生产", fusion="magic")


def test_cli_search_json_keys(bm25_kb: KnowledgeBase, capsys, monkeypatch) -> None:
    from knowledge import cli

    monkeypatch.setattr(cli.KnowledgeBase, "from_env", classmethod(lambda cls: bm25_kb))
    assert cli.main(["search", "审批能走快速通道吗", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert {"text", "citation", "doc_id", "version", "score", "answerable"} <= set(items[0])


def test_cli_eval_writes_json(bm25_kb: KnowledgeBase, tmp_path: Path, capsys,
                              monkeypatch) -> None:
    from knowledge import cli

    monkeypatch.setattr(cli.KnowledgeBase, "from_env", classmethod(lambda cls: bm25_kb))
    out = tmp_path / "eval.json"
    assert cli.main(["eval", str(HELDOUT), str(ROOT / "eval" / "out_of_scope.txt"),
                     "--json-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hit@1" in printed and "rejected" in printed
    report = json.loads(out.read_text(encoding="utf-8"))
    legs = report["sets"]["retrieval_heldout"]["legs"]
    assert {"bm25", "default"} <= set(legs)
    assert {"hit@1", "hit@3", "mrr"} <= set(legs["bm25"])


def test_cli_eval_missing_file(bm25_kb: KnowledgeBase, capsys, monkeypatch) -> None:
    from knowledge import cli

    monkeypatch.setattr(cli.KnowledgeBase, "from_env", classmethod(lambda cls: bm25_kb))
    assert cli.main(["eval", "/no/such/file.tsv"]) == 2
    assert "no such file" in capsys.readouterr().err


# -- fusion functions ----------------------------------------------------------------------
def test_fusion_methods_rank_and_keep_scores_in_range() -> None:
    lex = np.array([5.0, 0.0, 2.0, 1.0])
    dense = np.array([0.70, 0.90, np.nan, 0.80])
    for scores in (rrf(lex, dense), weighted(lex, dense, 0.3), rerank(lex, dense, 0.3, 2),
                   rescue(lex, dense, False)):
        finite = scores[np.isfinite(scores)]
        assert finite.max() <= 1.0 + 1e-9 and finite.min() >= 0.0
    # BM25 alone, with its own scores, when its evidence is strong
    assert np.array_equal(rescue(lex, dense, True), fuse("bm25", lex, None))
    assert int(np.argmax(fuse("dense", lex, dense))) == 1
    # rerank never lets a passage BM25 did not find outrank one of its candidates
    r = rerank(lex, dense, 0.9, 2)
    assert r[1] < min(r[0], r[2])
    assert np.all(np.isneginf(fuse("bm25", np.zeros(3), None)))
