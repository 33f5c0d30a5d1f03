"""Cleaning and parsing of the scraped opinion, checked against the raw source itself."""

from __future__ import annotations

import re

import pytest

from bench.sample_documents import RAW_SOURCE
from knowledge.ingestion.clause_parser import ClauseParser, split_sentences
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import DocumentInfo

RAW = RAW_SOURCE
INFO = DocumentInfo(doc_id="opinion", version="v1", title="测试意见")
PINYIN = re.compile(r"\([a-zA-Z\u00c0-\u024f\u0300-\u036f]+\)")


@pytest.fixture(scope="module")
def normalizer() -> TextNormalizer:
    return TextNormalizer()


@pytest.fixture(scope="module")
def parsed(normalizer: TextNormalizer):
    return ClauseParser(normalizer).parse(RAW.read_text(encoding="utf-8"), INFO)


def test_raw_source_has_the_annotations_we_remove() -> None:
    # Guards the tests below: they mean something only if the input really is dirty.
    assert len(PINYIN.findall(RAW.read_text(encoding="utf-8"))) == 323


def test_all_pinyin_annotations_are_gone(parsed) -> None:
    texts = [c.text for c in parsed.clauses] + [c.title for c in parsed.clauses]
    assert not any(PINYIN.search(t) for t in texts)
    assert "部门" in parsed.headline and "(" not in parsed.headline


def test_real_parentheses_survive(parsed) -> None:
    body = "\n".join(c.text for c in parsed.clauses)
    assert "国家(省、市)重点项目" in body
    assert "(除国家要求和重大活动保障任务需要外)" in body


def test_text_is_simplified_and_opencc_leftovers_fixed(parsed) -> None:
    body = "\n".join(c.text for c in parsed.clauses)
    assert "意味着" in body and "着力解决" in body
    assert "著" not in body
    for traditional in ("聯", "發", "與", "產業", "環境", "錯峰"):
        assert traditional not in body


def test_sections_and_items_with_titles(parsed) -> None:
    assert parsed.sections == ["工作原则", "工作任务", "保障措施"]
    items = [(c.section, c.item_no, c.title) for c in parsed.clauses if c.item_no]
    assert len(items) == 11
    assert [n for s, n, _ in items if s == "工作原则"] == [1, 2, 3]
    assert [n for s, n, _ in items if s == "工作任务"] == [1, 2, 3, 4, 5, 6]
    assert [n for s, n, _ in items if s == "保障措施"] == [1, 2]
    titles = {(s, n): t for s, n, t in items}
    assert titles["工作原则", 1] == "把握优先保障范围"
    assert titles["工作任务", 2] == "优化应急减排措施"
    assert titles["保障措施", 2] == "建立健全压力传导机制"


def test_footer_dropped_and_nothing_unplaced(parsed) -> None:
    assert parsed.unplaced_lines == []
    assert len(parsed.dropped_lines) == 1 and "谷腾环保网" in parsed.dropped_lines[0]
    assert not any("谷腾" in c.text or "扫一扫" in c.text for c in parsed.clauses)


def test_lead_paragraph_and_citations(parsed) -> None:
    lead = parsed.clauses[0]
    assert lead.section == "导语" and "联合印发" in lead.text
    task2 = next(c for c in parsed.clauses if c.clause_key == "工作任务/2")
    assert task2.citation == "《测试意见》工作任务 第2条"
    assert "提前1至2天" in task2.text


def test_passages_are_sentences_of_their_item(parsed) -> None:
    principle1 = [p for p in parsed.passages if p.clause_key == "工作原则/1"]
    assert len(principle1) == 3
    assert all(p.item_title == "把握优先保障范围" for p in principle1)
    assert principle1[0].text.startswith("战略性新兴产业包括大数据与物联网")
    assert len({p.passage_id for p in parsed.passages}) == len(parsed.passages)


def test_split_sentences_on_full_stops_and_semicolons() -> None:
    assert split_sentences("甲乙。丙丁；戊己\n庚辛;") == ["甲乙。", "丙丁；", "戊己", "庚辛;"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("錯峰生產企業清單怎麼定", "错峰生产企业清单怎么定"),
        ("ＡＢＣ１２３　审批", "abc123 审批"),
        ("审 批 有 没 有 绿 色 通 道", "审批有没有绿色通道"),
        ("部門(mén)", "部门"),
        ("国家(省、市)重点项目", "国家(省、市)重点项目"),
        ("", ""),
    ],
)
def test_query_normal_form(normalizer: TextNormalizer, typed: str, expected: str) -> None:
    assert normalizer.query_text(typed) == expected


def test_store_round_trip(built_kb) -> None:
    docs = built_kb.store.documents()
    assert [(d.doc_id, d.version) for d in docs] == [("hebei-differentiated-control-opinion", "2019")]
    clause = built_kb.store.clause("hebei-differentiated-control-opinion", "2019", "工作任务/1")
    assert clause is not None and "绿色通道" in clause.text
    assert clause.citation.startswith("《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》")
    assert len(built_kb.store.passages()) == 20
