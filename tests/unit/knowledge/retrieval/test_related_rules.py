"""Retrieval over the opinion and the laws it rests on: articles by number, repealed texts, the
text in force by default (the issue of the related rules)."""

from __future__ import annotations

import pytest

from knowledge.cli import main as kb_main
from knowledge.evaluation.retrieval_eval import run
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.successors import guess_successors
from knowledge.settings import PROJECT_ROOT

EVAL = PROJECT_ROOT / "eval"
CODE = "ecological-environment-code"


@pytest.fixture(scope="module")
def retriever(related_kb: KnowledgeBase):
    return related_kb.retriever


@pytest.mark.parametrize(("question", "doc_id", "article"), [
    ("法典第五十二条说的什么", CODE, 52),
    ("生态环境法典第1102条", CODE, 1102),
    ("排污许可管理条例第三十三条", "pollutant-discharge-permit-regulation", 33),
    ("行政处罚法 第63条讲的啥", "administrative-penalty-law", 63),
])
def test_an_article_named_by_number_is_exactly_that_article(retriever, question, doc_id, article):
    result = retriever.search(question)
    assert result.answerable and result.reason == "article lookup"
    assert {(h.passage.doc_id, h.passage.item_no) for h in result.hits} == {(doc_id, article)}
    hit = result.hits[0].to_json()
    assert hit["in_force"] is True and hit["article_no"] == article
    assert hit["doc_type"] in ("law", "administrative_regulation")
    assert hit["doc_title"] and "第" in hit["citation"] and "#" not in hit["citation"]


def test_a_repealed_article_is_answered_by_its_successor_in_force(retriever):
    result = retriever.search("环境保护法第二十五条怎么规定的")
    ref = result.reference
    assert ref is not None and ref.in_force is False and ref.status == "repealed"
    assert (ref.repealed, ref.repealed_by) == ("2026-08-15", CODE)
    assert ref.successor is not None and ref.successor.articles == (52,)
    assert result.details["document_reference"]["successor"]["articles"] == (52,)  # logs
    assert result.hits and all(h.passage.doc_id == CODE and h.in_force for h in result.hits)
    assert result.hits[0].passage.item_no == 52


def test_the_old_text_only_when_asked_for(retriever):
    result = retriever.search("环境保护法第二十五条原文是什么")
    assert result.hits[0].passage.doc_id == "environmental-protection-law"
    assert result.hits[0].in_force is False
    assert result.hits[0].passage.citation == "《中华人民共和国环境保护法》第二十五条"


def test_repealed_texts_never_answer_by_default(retriever):
    """The old laws' passages are in the index (for their old text) but never ranked."""
    for question in ("按日连续处罚怎么规定", "建设项目环境影响评价文件未经批准擅自开工建设",
                     "企业事业单位应当按照国家有关规定制定突发环境事件应急预案"):
        result = retriever.search(question, 10)
        assert result.hits and all(h.in_force for h in result.hits), question


def test_currency_check_no_top_answer_from_a_repealed_text(retriever):
    report = run(retriever, [EVAL / "law_tune.tsv", EVAL / "law_heldout.tsv"], {"bm25": "bm25"})
    for entry in report["sets"].values():
        assert entry["legs"]["bm25"]["top_not_in_force"] == 0


def test_successor_guesses_agree_with_the_reviewed_gold(related_kb):
    guesses = {(g.old_doc, g.old_article): g.new_articles for g in guess_successors(related_kb)}
    right = total = 0
    for line in (EVAL / "law_successors_gold.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        old, new = line.split("\t")
        doc, n = old.split("#")
        wanted = {int(g.split("#")[1]) for g in new.split("|")}
        total += 1
        right += bool(wanted & set(guesses.get((doc, int(n)), ())))
    assert total >= 30 and right / total >= 0.9


def test_versions_lists_every_document_with_status_and_relations(related_kb, monkeypatch,
                                                                  capsys):
    monkeypatch.setenv("KB_HOME", str(related_kb.settings.home))
    monkeypatch.setenv("KB_RELATED_SOURCES", "true")
    monkeypatch.setenv("KB_DENSE_MODEL", "none")
    assert kb_main(["versions"]) == 0
    out = capsys.readouterr().out
    assert "environmental-protection-law [法律]" in out
    assert "repealed    effective 2015-01-01 → 2026-08-15" in out
    assert "repeals: environmental-protection-law, eia-law, air-pollution-prevention-law" in out
    assert "hebei-differentiated-control-opinion [省级政策文件]" in out


def test_the_opinion_keeps_its_own_questions_with_the_whole_corpus(retriever):
    dev_set = PROJECT_ROOT.parent / "shared" / "eval" / "retrieval_dev.tsv"
    if not dev_set.exists():
        pytest.skip("../shared/eval is not checked out")
    report = run(retriever, [dev_set],
                 {"bm25": "bm25"})
    dev = report["sets"]["retrieval_dev"]["legs"]["bm25"]
    assert dev["hit@1"] >= 0.9 and dev["hit@3"] >= 0.95


def test_an_opinion_clause_names_the_articles_it_rests_on(retriever):
    result = retriever.search("无证排污会怎么处理")
    opinion = next(h for h in retriever.search("弄虚作假、偷排偷放要严查重处吗", 10).hits
                   if h.passage.clause_key == "保障措施/1")
    basis = retriever.legal_basis(opinion.passage)
    assert [b["article"] for b in basis] == [1102, 1107, 1108]
    assert basis[0]["citation"] == "《中华人民共和国生态环境法典》第一千一百零二条"
    assert result.hits  # the question itself is answerable from the corpus


def test_every_legal_basis_link_names_an_article_that_exists(related_kb):
    from knowledge.retrieval.article_reference import load_legal_basis
    from knowledge.retrieval.live_index import LEGAL_BASIS_FILE

    articles = {(c.doc_id, c.item_no) for c in related_kb.store.clauses()}
    clauses = {(c.doc_id, c.clause_key) for c in related_kb.store.clauses()}
    for (doc_id, key), refs in load_legal_basis(
            related_kb.settings.data_dir / LEGAL_BASIS_FILE).items():
        assert (doc_id, key) in clauses
        assert all(ref in articles for ref in refs), (doc_id, key)


def test_the_opinion_alone_gives_no_legal_basis(built_kb):
    hit = built_kb.retriever.search("弄虚作假、偷排偷放要严查重处吗").hits[0]
    assert built_kb.retriever.legal_basis(hit.passage) == []


def test_a_reported_violation_gets_the_law_in_force_with_its_fine(related_kb):
    from knowledge.eligibility.reply import summary_parts

    assessment = related_kb.eligibility_engine().assess(
        {"industry": "铸造", "violations": ["没有排污许可证就排污"]}).to_json()
    [consequence] = assessment["legal_consequences"]
    assert consequence["violation"] == "无证排污" and consequence["article"] == 1102
    assert "处二十万元以上一百万元以下的罚款" in consequence["text"]
    line = summary_parts(assessment)["consequences"]
    assert line.startswith("\n· 无证排污：") and "（《生态环境法典》第一千一百零二条）" in line


def test_without_the_laws_a_violation_quotes_the_opinion_only(built_kb):
    assessment = built_kb.eligibility_engine().assess(
        {"industry": "铸造", "violations": ["没有排污许可证就排污"]}).to_json()
    assert assessment["legal_consequences"] == []


def test_a_repealed_law_named_without_an_article_gets_the_text_in_force(retriever):
    result = retriever.search("大气污染防治法规定重污染天气预警怎么办")
    assert result.reference is not None and result.reference.in_force is False
    assert result.hits[0].passage.doc_id == CODE  # the successor text, not the opinion
    assert {p.item_no for p in retriever.article(CODE, 264)} == {264}  # its two paragraphs


def test_an_article_asked_by_number_is_quoted_whole_with_its_lead_in_once(retriever):
    from knowledge.retrieval.answering import compose_answer

    answer = compose_answer(retriever.search("排污许可管理条例第三十三条"), True)
    lines = answer.text.splitlines()
    assert lines[0].startswith("违反本条例规定，排污单位有下列行为之一的") and "(一)" in lines[0]
    assert all(line.startswith(("(", "（")) for line in lines[1:]), lines  # lead-in once
    assert answer.citation == "《排污许可管理条例》第三十三条"


def test_the_old_text_of_an_article_with_two_successors_is_that_article_only(retriever):
    link = retriever.successors[("air-pollution-prevention-law", 4)]
    assert len(link.articles) == 2
    result = retriever.search("大气污染防治法第四条原文")
    assert result.hits
    assert {(h.passage.doc_id, h.passage.item_no) for h in result.hits} == \
        {("air-pollution-prevention-law", 4)}
    successor = retriever.search("大气污染防治法第四条")
    assert {(h.passage.doc_id, h.passage.item_no) for h in successor.hits} == \
        {(CODE, n) for n in link.articles}
