"""The related rules parse into exactly the articles their sources count (related/SOURCES.md)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from knowledge.citations import chinese_number, number_in_words
from knowledge.ingestion.ingest import DocumentParser, read_entry, read_manifest
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import DocumentInfo, ParsedDocument
from knowledge.paths import SOURCES_DIR
from knowledge.store.clause_store import ClauseStore, DocumentNotStorable

RELATED = SOURCES_DIR / "related"
MANIFEST = RELATED / "manifest.yml"
MARKUP = re.compile(r"[#*<>&{}]|\[\[|::")


def _sources_counts() -> dict[str, tuple[int, int, int]]:
    """file -> (articles, first, last) from the SOURCES.md table."""
    counts = {}
    for line in (RELATED / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 11 or not cells[0].endswith(".md"):
            continue
        m = re.match(r"(\d+)(?: \((?:arts )?(\d+)[–-](\d+)\))?", cells[9])
        if m and int(m.group(1)):
            n = int(m.group(1))
            counts[cells[0]] = (n, int(m.group(2) or 1), int(m.group(3) or n))
    return counts


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedDocument]:
    parser = DocumentParser(TextNormalizer())
    return {e.info.doc_id: parser.parse(read_entry(e), e.info) for e in read_manifest(MANIFEST)}


@pytest.fixture(scope="module")
def entries():
    return {e.info.doc_id: e for e in read_manifest(MANIFEST)}


def test_every_document_has_the_articles_its_source_counts(parsed, entries):
    counts = _sources_counts()
    assert len(counts) == 14  # 5 Code parts with articles + 9 other texts
    for doc_id, doc in parsed.items():
        numbers = [c.item_no for c in doc.clauses]
        files = [p.name for p in entries[doc_id].paths]
        expected = [counts[f] for f in files if f in counts]
        total = sum(n for n, _, _ in expected)
        assert len(numbers) == total, doc_id
        assert numbers == list(range(1, total + 1)), doc_id  # no gap, no duplicate
        assert (numbers[0], numbers[-1]) == (expected[0][1], expected[-1][2]), doc_id
        assert doc.unplaced_lines == [], doc_id


def test_the_code_is_one_law_of_1242_articles_read_from_six_files(parsed, entries):
    code = parsed["ecological-environment-code"]
    assert len(entries["ecological-environment-code"].paths) == 6
    assert len(code.clauses) == 1242
    assert code.clauses[-1].citation == "《中华人民共和国生态环境法典》第一千二百四十二条"


def test_citations_and_passages_are_free_of_markup(parsed):
    for doc in parsed.values():
        for clause in doc.clauses:
            assert not MARKUP.search(clause.citation), clause.citation
            assert not MARKUP.search(clause.text), (clause.citation, clause.text[:40])


def test_articles_sit_under_their_own_chapter(parsed):
    epl = {c.item_no: c for c in parsed["environmental-protection-law"].clauses}
    assert epl[25].section == "第二章 监督管理"
    assert epl[59].section == "第六章 法律责任"
    assert epl[41].section.startswith("第四章")
    code = {c.item_no: c for c in parsed["ecological-environment-code"].clauses}
    assert code[52].section == "第一编 总则 第二章 监督管理 第二节 监督管理制度"
    assert code[1102].section.endswith("第三节 违反排污许可管理规定")
    assert "分编" in code[200].section  # 第二编 污染防治 第二分编 大气污染防治 ...


def test_an_enumerated_item_keeps_the_lead_in_of_its_paragraph(parsed):
    passages = [p for p in parsed["mee-seizure-detention-measures"].passages
                if p.clause_key == "第4条"]
    lead = "排污者有下列情形之一的，环境保护主管部门依法实施查封、扣押："
    items = [p for p in passages if "（" in p.text[:len(lead) + 2]]
    assert len(items) == 6
    assert all(p.text.startswith(lead + "（") for p in items)
    assert passages[-1].text.startswith("有前款第一项")  # the next paragraph stands alone


def test_repeal_relations_come_from_the_repealing_text(entries):
    for old in ("environmental-protection-law", "air-pollution-prevention-law", "eia-law"):
        info = entries[old].info
        assert (info.repealed_by, info.repealed) == ("ecological-environment-code", "2026-08-15")
    assert entries["administrative-penalty-law"].info.repealed == ""


def test_a_document_that_cannot_be_stored_is_refused_whole(tmp_path, parsed):
    store = ClauseStore(tmp_path / "kb.sqlite")
    good = parsed["administrative-coercion-law"]
    store.save(good)
    twice = replace(good, clauses=good.clauses + good.clauses[:1])
    with pytest.raises(DocumentNotStorable, match=r"第一条.*appears twice"):
        store.save(twice)
    assert len(store.clauses("administrative-coercion-law")) == 71  # the stored one untouched


def test_an_article_out_of_sequence_is_reported_with_its_place():
    info = DocumentInfo("x", "1", "测试办法", doc_type="ministry_rule")
    text = "测试办法\n第一章 总则\n第一条 为了测试，制定本办法。\n第三条 跳号的条文。\n第二条 本办法自公布之日起施行。"
    doc = DocumentParser(TextNormalizer()).parse(text, info)
    assert [c.item_no for c in doc.clauses] == [1, 2]
    assert any("out of sequence" in u and "第三条" in u for u in doc.unplaced_lines)


@pytest.mark.parametrize("n", [1, 10, 11, 20, 52, 105, 110, 1000, 1010, 1102, 1242])
def test_article_numbers_round_trip_through_words(n):
    assert chinese_number(number_in_words(n)) == n
