"""What an answer may say, over the opinion and the laws it rests on (BM25 only): the repeal
notice for a text no longer in force, successors, old text on request, citations, and the
documents a greeting names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import Passage, SearchHit
from knowledge.retrieval.answering import (
    AnswerKind,
    PolicyAnswer,
    RepealKind,
    answer_message,
    article_citations,
    article_label,
    bare_title,
    chinese_date,
    compose_answer,
    repeal_notice,
    scope_of,
    successor_queries,
    with_governing_rules,
)
from knowledge.retrieval.pipeline import DocumentReference, SearchResult
from knowledge.retrieval.retriever import Retriever

CODE = "《中华人民共和国生态环境法典》"
EPL = "中华人民共和国环境保护法"
OPINION = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"


@pytest.fixture(scope="module")
def retriever(related_kb: KnowledgeBase) -> Retriever:
    return related_kb.retriever


def ask(retriever: Retriever, question: str, understood: bool = True) -> PolicyAnswer:
    [answer] = answer_message(retriever.search, question, understood, retriever.documents)
    return answer


# -- an article of a repealed law ---------------------------------------------------------
def test_repealed_article_is_answered_by_its_successor_with_the_repeal_said_first(retriever):
    answer = ask(retriever, "环境保护法第二十五条怎么规定的")

    assert answer.kind is AnswerKind.ANSWER
    assert answer.citation == f"{CODE}第五十二条"
    assert answer.text.startswith("企业事业单位和其他生产经营者违反法律法规规定")
    notice = answer.repeal
    assert notice is not None and notice.kind is RepealKind.SUCCESSOR
    assert (notice.title, notice.repealed_on, notice.repealed_by) == (
        EPL, "2026年8月15日", "中华人民共和国生态环境法典")
    assert (notice.article, notice.successor) == ("第二十五条", f"{CODE}第五十二条")
    # knowledge/data/successors.yml: found by text similarity, not yet checked by staff.
    assert notice.unreviewed
    assert answer.citations == [f"{CODE}第五十二条"]


def test_a_reviewed_successor_link_needs_no_caveat(retriever):
    result = retriever.search("环境保护法第二十五条怎么规定的")
    ref = result.reference
    assert ref is not None and ref.successor is not None
    reviewed = replace(ref, successor=replace(ref.successor, reviewed=True))
    notice = repeal_notice(replace(result, reference=reviewed))
    assert notice is not None and notice.kind is RepealKind.SUCCESSOR
    assert not notice.unreviewed


def test_an_article_split_over_two_successors_names_both_and_quotes_the_first(retriever):
    answer = ask(retriever, "大气污染防治法第四条")

    assert answer.repeal is not None
    assert answer.repeal.successor == f"{CODE}第二百五十六条、第二百五十五条"
    assert answer.citation == f"{CODE}第二百五十六条"
    assert answer.see_also == []  # the notice names them already


def test_repealed_article_without_a_known_successor_says_so_and_quotes_nothing(retriever):
    # environmental-protection-law 32 has no link in successors.yml.
    for understood in (True, False):  # naming a law's article is a question about it
        answer = ask(retriever, "环境保护法第三十二条怎么规定的", understood)
        assert answer.kind is AnswerKind.NOT_COVERED
        assert answer.repeal is not None and answer.repeal.kind is RepealKind.NO_SUCCESSOR
        assert answer.repeal.article == "第三十二条" and answer.repeal.successor == ""
        assert not answer.repeal.unreviewed
        assert answer.citations == [] and answer.text == ""


def test_old_text_on_request_is_the_repealed_article_with_its_successor(retriever):
    answer = ask(retriever, "环境保护法第二十五条原文")

    assert answer.kind is AnswerKind.ANSWER
    assert answer.citation == f"《{EPL}》第二十五条"
    assert answer.text.startswith("企业事业单位和其他生产经营者违反法律法规规定排放污染物")
    notice = answer.repeal
    assert notice is not None and notice.kind is RepealKind.OLD_TEXT
    assert notice.successor == notice.current_citation == f"{CODE}第五十二条"
    assert notice.current_text.startswith("企业事业单位和其他生产经营者违反法律法规规定，造成")
    assert notice.unreviewed
    assert answer.citations == [f"《{EPL}》第二十五条", f"{CODE}第五十二条"]


def test_old_text_without_a_successor_is_still_labelled_and_names_none(retriever):
    answer = ask(retriever, "环境保护法第三十二条原文")

    assert answer.kind is AnswerKind.ANSWER and answer.citation == f"《{EPL}》第三十二条"
    notice = answer.repeal
    assert notice is not None and notice.kind is RepealKind.OLD_TEXT
    assert (notice.successor, notice.current_text) == ("", "")
    assert not notice.unreviewed


def test_successor_is_looked_up_by_the_title_of_the_successor_text(retriever):
    result = retriever.search("大气法第四条原文是什么")
    assert successor_queries(result, retriever.documents) == [
        "中华人民共和国生态环境法典第二百五十六条", "中华人民共和国生态环境法典第二百五十五条"]
    # Without the documents, the repealing text's title serves (it is the successor here).
    assert successor_queries(result) == successor_queries(result, retriever.documents)


# -- a repealed law named without an article ----------------------------------------------
def test_repealed_law_named_without_an_article_gets_todays_rule_after_the_notice(retriever):
    answer = ask(retriever, "环保法按日连续处罚怎么规定")

    # Today's rule is quoted, or offered among close articles in force.
    assert answer.kind in (AnswerKind.ANSWER, AnswerKind.CLARIFY)
    assert all(c.citation.startswith(("《中华人民共和国生态环境法典》", "《排污许可管理条例》"))
               for c in answer.choices)
    assert answer.repeal is not None and answer.repeal.kind is RepealKind.DOCUMENT
    assert (answer.repeal.title, answer.repeal.article) == (EPL, "")
    result = retriever.search("环保法按日连续处罚怎么规定")
    assert all(h.in_force for h in result.hits)
    assert EPL not in answer.citation


def test_repealed_law_named_without_an_answer_in_force_keeps_the_notice(retriever):
    # "老的大气法…": the alias words count against coverage today, so nothing is answerable;
    # the owner still learns the law is repealed.
    answer = ask(retriever, "老的大气法里说重污染天气要停产吗", understood=False)
    assert answer.kind is AnswerKind.NOT_COVERED
    assert answer.repeal is not None and answer.repeal.kind is RepealKind.DOCUMENT
    assert answer.repeal.title == "中华人民共和国大气污染防治法"


@pytest.mark.parametrize("question", ["法典第五十二条说的什么", "审批有没有绿色通道？",
                                      "排污许可条例第三十三条"])
def test_texts_in_force_get_no_notice(retriever, question):
    answer = ask(retriever, question)
    assert answer.kind is AnswerKind.ANSWER and answer.repeal is None


def test_each_question_of_a_message_gets_its_own_notice(retriever):
    first, second = answer_message(retriever.search, "审批有没有绿色通道？环境保护法第二十五条怎么规定的？",
                                   True, retriever.documents)
    assert first.repeal is None and first.citation.startswith(OPINION)
    assert second.repeal is not None and second.repeal.kind is RepealKind.SUCCESSOR


# -- citations ----------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["法典第一千一百零二条", "环境保护法第二十五条原文",
                                      "大气污染防治法第四条", "未取得排污许可证排放污染物怎么罚"])
def test_a_law_is_cited_as_its_passage_says_with_its_title_marks_once(retriever, question):
    result = retriever.search(question)
    answer = ask(retriever, question)
    if answer.kind is AnswerKind.CLARIFY:  # close articles: each choice cites its own
        assert [c.citation for c in answer.choices] == [h.passage.citation
                                                         for h in result.choices]
        texts = [c.citation for c in answer.choices]
    else:
        assert answer.kind is AnswerKind.ANSWER
        assert answer.citation == result.hits[0].passage.citation
        texts = [*answer.citations, answer.repeal.successor if answer.repeal else ""]
    assert not any("《《" in t or "》》" in t or "（）" in t for t in texts)


def test_the_opinion_keeps_its_item_titles_in_citations(retriever):
    answer = ask(retriever, "审批有没有绿色通道？")
    assert answer.citation == f"{OPINION}工作任务 第1条（制定正向鼓励清单）"


def _hit(doc_id: str, clause_key: str, score: float, rank: int, title: str = "") -> SearchHit:
    passage = Passage(f"{doc_id}@1#{clause_key}#{rank}", doc_id, "1", clause_key, "", 1, title,
                      rank, f"text {rank}", f"《{doc_id}》{clause_key}")
    return SearchHit(passage, score, rank, {"in_force": True})


def test_see_also_names_a_clause_once_and_tells_two_documents_clauses_apart():
    hits = [_hit("code", "第52条", 10.0, 1), _hit("rule", "第52条", 9.0, 2),
            _hit("rule", "第52条", 8.9, 3), _hit("code", "第52条", 8.8, 4),
            _hit("code", "第53条", 8.0, 5)]
    answer = compose_answer(SearchResult("q", "q", [], hits, True, "covered"), True)
    assert answer.citation == "《code》第52条"
    assert answer.see_also == ["《rule》第52条", "《code》第53条"]


# -- small helpers ------------------------------------------------------------------------
def test_helpers_for_dates_articles_and_titles():
    assert chinese_date("2026-08-15") == "2026年8月15日"
    assert chinese_date("") == "" and chinese_date("2026") == "2026"
    assert article_label(25) == "第二十五条" and article_label(1102) == "第一千一百零二条"
    assert bare_title(f"《{EPL}》") == EPL == bare_title(EPL)


def test_a_repealed_text_without_a_repealing_one_in_the_base_has_no_replacement():
    reference = DocumentReference("old", "旧办法", None, "某旧办法", False, False,
                                  status="repealed", repealed="2020-01-01")
    notice = repeal_notice(SearchResult("q", "q", [], [], False, "no", reference=reference))
    assert notice is not None and notice.kind is RepealKind.DOCUMENT
    assert (notice.title, notice.repealed_on, notice.repealed_by) == ("某旧办法", "2020年1月1日",
                                                                      "")


# -- the documents a reply names ----------------------------------------------------------
def test_scope_names_the_opinion_and_the_code_and_counts_every_text_in_force(retriever):
    scope = scope_of(retriever.documents)
    in_force = [d for d in retriever.documents.values() if d["in_force"]]
    assert scope.names == ["《差别化管控意见》", "《生态环境法典》"]
    assert scope.count == len(in_force) == 8 and scope.more
    assert scope.listed == "《差别化管控意见》《生态环境法典》"
    assert not any("环境保护法" in n for n in scope.names)  # repealed: not in scope


def test_scope_of_one_document_and_of_none():
    one = scope_of({"opinion": {"short_title": "差别化管控意见", "title": "关于…的意见",
                                "doc_type": "provincial_policy", "in_force": True},
                    "old": {"short_title": "旧法", "doc_type": "law", "in_force": False}})
    assert (one.names, one.count, one.more) == (["《差别化管控意见》"], 1, False)
    assert scope_of({}).count == 0 and scope_of({}).names == []
    untitled = scope_of({"x": {"title": "《某办法》", "doc_type": ""}})
    assert untitled.names == ["《某办法》"]


def test_article_citations_name_the_document_once_per_document():
    hits = [_hit("code", "第256条", 1.0, 1), _hit("code", "第256条", 0.5, 2),
            _hit("code", "第255条", 0.3, 3), _hit("rule", "第9条", 0.2, 4)]
    assert article_citations(hits) == "《code》第256条、第255条、《rule》第9条"
    assert article_citations([]) == ""


# -- choices and the rules that govern instead of a repealed law ----------------------------
def _law_hit(article: int, text: str) -> SearchHit:
    passage = Passage(f"code@1#{article}", "code", "1", f"第{article}条", "第八编", article, "",
                      1, text, f"《中华人民共和国生态环境法典》{article_label(article)}")
    return SearchHit(passage, 1.0, 1, {"in_force": True, "doc_type": "law",
                                       "title": "《中华人民共和国生态环境法典》",
                                       "short_title": "生态环境法典"})


def test_close_articles_are_offered_as_a_short_choice_not_a_guess():
    hits = (_law_hit(1102, "违反本法规定，未取得排污许可证排放污染物的，责令改正"),
            _law_hit(1105, "以欺骗、贿赂等不正当手段取得排污许可证的"))
    result = SearchResult("没证排污罚多少", "没证排污罚多少", [], list(hits), False, "close",
                          choices=hits)
    answer = compose_answer(result, True)
    assert answer.kind is AnswerKind.CLARIFY and answer.citations == []
    assert [c.payload for c in answer.choices] == ["生态环境法典第1102条", "生态环境法典第1105条"]
    assert answer.choices[0].title.startswith("生态环境法典第1102条：违反本法规定")
    assert answer.choices[0].citation == "《中华人民共和国生态环境法典》第一千一百零二条"


class _Library:
    def __init__(self, refs, articles, documents):
        self.cross_references, self._articles, self.documents = refs, articles, documents

    def article(self, doc_id, number):
        return self._articles.get((doc_id, number), [])


def test_an_article_pointing_to_a_repealed_law_comes_with_the_rule_in_force():
    from knowledge.retrieval.cross_references import CrossReference
    citing = Passage("reg@1#21", "reg", "1", "第21条", "第五章", 21, "", 1,
                     "建设单位有下列行为之一的，依照《中华人民共和国环境影响评价法》的规定处罚",
                     "《建设项目环境保护管理条例》第二十一条")
    governing = _law_hit(1095, "建设单位未依法报批建设项目生态环境影响报告书").passage
    ref = CrossReference("reg", 21, "依照《中华人民共和国环境影响评价法》的规定处罚", "eia",
                         (("code", 1095),), False)
    library = _Library({("reg", 21): (ref,)}, {("code", 1095): [governing]},
                       {"code": {"in_force": True, "doc_type": "law"},
                        "eia": {"title": "《中华人民共和国环境影响评价法》", "in_force": False,
                                "repealed": "2026-08-15"}})
    result = SearchResult("未批先建怎么罚", "未批先建怎么罚", [], [SearchHit(citing, 1.0, 1)], True,
                          "covered")
    answer = with_governing_rules(compose_answer(result, True), result, library)
    [rule] = answer.governing
    assert (rule.repealed_title, rule.repealed_on) == ("中华人民共和国环境影响评价法", "2026年8月15日")
    assert rule.citation == "《中华人民共和国生态环境法典》第一千零九十五条"
    assert rule.text.startswith("建设单位未依法报批") and rule.reviewed is False
    assert rule.citation in answer.citations


# -- several questions in one message, and what an answer leaves open ---------------------
OPINION_ID = "hebei-differentiated-control-opinion"


def _clause(clause_key: str, text: str, score: float, rank: int = 1,
            doc_id: str = OPINION_ID) -> SearchHit:
    passage = Passage(f"{doc_id}@1#{clause_key}#{rank}", doc_id, "1", clause_key, "", 1, "",
                      rank, text, f"《{doc_id}》{clause_key}")
    return SearchHit(passage, score, rank, {"in_force": True})


class FakeSearch:
    """Search results by question, for decisions that must not depend on a ranker."""

    def __init__(self, results: dict[str, tuple[list[SearchHit], bool]]) -> None:
        self.results = results
        self.asked: list[str] = []

    def __call__(self, query: str) -> SearchResult:
        self.asked.append(query)
        hits, answerable = self.results.get(query, ([], False))
        return SearchResult(query, query, [], hits, answerable, "test")


PRIORITY = _clause("工作原则/1", "环保“领跑者”企业……国家(省、市)重点项目。", 9.0)
DISCHARGE = _clause("保障措施/1", "对弄虚作假、违法生产、偷排偷放……一律依法依规严肃查处。", 8.0)
SEIZURE = _clause("第4条", "有下列情形之一的，可以实施查封、扣押。", 8.5, doc_id="seizure-rule")


def test_a_weak_part_is_answered_by_the_clause_the_whole_message_is_sure_of():
    search = FakeSearch({
        "哪些企业优先保障": ([PRIORITY], True),
        # alone, the second part hesitates between a rule and the opinion
        "偷排被抓到会怎么处理": ([SEIZURE, replace(DISCHARGE, rank=2)], False),
        "哪些企业优先保障 还有偷排被抓到会怎么处理": ([DISCHARGE, PRIORITY], True),
    })
    first, second = answer_message(search, "哪些企业优先保障 还有偷排被抓到会怎么处理", True)
    assert (first.kind, first.citation) == (AnswerKind.ANSWER, PRIORITY.passage.citation)
    assert (second.kind, second.question) == (AnswerKind.ANSWER, "偷排被抓到会怎么处理")
    assert second.citation == DISCHARGE.passage.citation


def test_the_whole_message_does_not_vouch_for_a_clause_another_part_quotes_or_its_own_misses():
    search = FakeSearch({
        "哪些企业优先保障": ([PRIORITY], True),
        "偷排被抓到会怎么处理": ([SEIZURE], False),
        "哪些企业优先保障 还有偷排被抓到会怎么处理": ([PRIORITY, DISCHARGE], True),
    })
    first, second = answer_message(search, "哪些企业优先保障 还有偷排被抓到会怎么处理", True)
    assert first.kind is AnswerKind.ANSWER
    # not dropped: declined on its own, with its question
    assert (second.kind, second.question) == (AnswerKind.NOT_COVERED, "偷排被抓到会怎么处理")


GREEN = _clause("工作任务/1", "开通“绿色通道”，优化审批服务流程，落实各项环保财税政策。", 9.0)
CLOSURE = _clause("工作原则/2", "对不符合产业政策、手续不全、治理无望、不能稳定达标排放的企业，"
                  "坚决依法关停取缔。", 9.0)
NO_BLANKET = _clause("工作任务/4", "严格禁止“一律顶格处罚”“一律关停”“先停再说”等简单粗暴行为。",
                     5.0)


def test_an_answer_names_what_the_clause_does_not_give():
    search = FakeSearch({"环保财税政策能补贴多少钱": ([GREEN], True)})
    [answer] = answer_message(search, "环保财税政策能补贴多少钱", True)
    assert answer.kind is AnswerKind.ANSWER and answer.missing == "金额"
    assert answer.text == GREEN.passage.text  # quoted as what the text does say
    assert answer.needs_human


def test_a_question_asking_for_a_procedure_is_declined_not_misunderstood():
    [answer] = answer_message(FakeSearch({}), "专项资金申请表在哪里下载", False)
    assert answer.kind is AnswerKind.NOT_COVERED


def test_a_clause_about_the_opposite_case_gives_way_to_the_clause_for_the_owners_case():
    question = "我们排放一直达标，会不会也被停产"
    search = FakeSearch({question: ([CLOSURE], True),
                         "严格禁止一律顶格处罚 一律关停 先停再说": ([NO_BLANKET], True)})
    [answer] = answer_message(search, question, True)
    assert answer.kind is AnswerKind.ANSWER
    assert (answer.text, answer.citation) == (NO_BLANKET.passage.text,
                                              NO_BLANKET.passage.citation)
    assert answer.opposite is not None
    assert (answer.opposite.stated, answer.opposite.citation) == ("排放达标", "工作原则/2")
    assert answer.passage_ids == [NO_BLANKET.passage.passage_id]


def test_without_a_clause_for_the_owners_case_the_answer_declines():
    question = "我们排放一直达标，会不会也被停产"
    [answer] = answer_message(FakeSearch({question: ([CLOSURE], True)}), question, True)
    assert answer.kind is AnswerKind.NOT_COVERED
    assert answer.opposite is not None and answer.text == "" and answer.needs_human


def test_comma_joined_questions_get_one_cited_answer_each(retriever):
    first, second = answer_message(retriever.search, "审批能走绿色通道吗，重污染预警提前几天发",
                                   True, retriever.documents)
    assert (first.question, first.kind) == ("审批能走绿色通道吗", AnswerKind.ANSWER)
    assert first.citation == f"{OPINION}工作任务 第1条（制定正向鼓励清单）"
    assert (second.question, second.kind) == ("重污染预警提前几天发", AnswerKind.ANSWER)
    assert "提前1至2天" in second.text and second.missing == ""


def test_a_compliant_owner_is_not_told_the_closure_clause_applies(retriever):
    answer = ask(retriever, "我们排放一直达标，会不会也被停产")
    assert answer.kind is AnswerKind.ANSWER
    assert "一律关停" in answer.text and "关停取缔" not in answer.text
    assert answer.citation == f"{OPINION}工作任务 第4条（完善执法监管机制）"
    assert answer.opposite is not None
    assert answer.opposite.citation == "工作原则 第2条（落实分类差别管控）"
