"""The honesty guard: what the policy does not cover comes back answerable=False.

Runs on BM25 alone and on the shipped default (dense leg when m3e-small is installed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.evaluation.retrieval_eval import load_lines, load_questions_tsv
from knowledge.knowledge_base import KnowledgeBase
from knowledge.retrieval.retriever import Retriever
from knowledge.settings import KnowledgeSettings
from tests.conftest import PROJECT_ROOT

ROOT = PROJECT_ROOT
SHARED_EVAL = ROOT.parent / "shared" / "eval"
OUT_OF_SCOPE = (load_lines(ROOT / "eval" / "out_of_scope.txt")
                + load_lines(ROOT / "eval" / "out_of_scope_tune.txt"))
BRIEF_EXAMPLES = ["今天天气怎么样", "社保怎么交", "注册公司要什么材料", "个税怎么申报",
                  "房贷利率是多少", "北京的政策是什么", "北京对错峰生产有什么规定"]


@pytest.fixture(scope="module")
def bm25(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    kb = KnowledgeBase(KnowledgeSettings(home=tmp_path_factory.mktemp("kb-guard"),
                                         dense_model="none", related_sources=False))
    kb.ingest_sources()
    return kb.retriever


@pytest.fixture(scope="module", params=["bm25", "default"])
def retriever(request, bm25: Retriever, built_kb: KnowledgeBase) -> Retriever:
    return bm25 if request.param == "bm25" else built_kb.retriever


@pytest.mark.parametrize("question", list(dict.fromkeys(OUT_OF_SCOPE + BRIEF_EXAMPLES)))
def test_out_of_scope_is_not_answerable(retriever: Retriever, question: str) -> None:
    result = retriever.search(question)
    assert not result.answerable, result.reason


def _in_scope(path: Path) -> list[str]:
    return [q.question for q in load_questions_tsv(path)] if path.exists() else []


@pytest.mark.parametrize("path", [
    SHARED_EVAL / "retrieval_dev.tsv",
    SHARED_EVAL / "retrieval_dev_colloquial.tsv",
    ROOT / "eval" / "retrieval_heldout.tsv",
], ids=["dev", "colloquial", "heldout"])
def test_policy_questions_are_answerable(retriever: Retriever, path: Path) -> None:
    questions = _in_scope(path)
    if not questions:
        pytest.skip(f"{path} missing")
    refused = [q for q in questions if not retriever.search(q).answerable]
    assert len(refused) / len(questions) <= 0.12, refused


def test_other_jurisdiction_is_declined_with_a_reason(retriever: Retriever) -> None:
    result = retriever.search("上海的错峰生产企业清单怎么定")
    assert result.hits  # the ranking is still there for staff review
    assert not result.answerable
    assert "上海" in result.reason


def test_a_hebei_city_is_not_another_jurisdiction(retriever: Retriever) -> None:
    assert retriever.search("唐山的企业秋冬季错峰生产清单怎么定").answerable


def test_heavy_pollution_weather_is_policy_but_weather_is_not(retriever: Retriever) -> None:
    assert retriever.search("重污染天气预警提前几天发布").answerable
    assert not retriever.search("明天天气怎么样").answerable


def test_reason_explains_the_decision(retriever: Retriever) -> None:
    ok = retriever.search("差别化电价")
    assert ok.answerable and ok.reason.startswith("covered")
    no = retriever.search("社保怎么交")
    assert not no.answerable and no.reason
