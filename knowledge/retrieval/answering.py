"""Decides what a search result lets the assistant say, and with which citations.

Kept apart from the Rasa action so the rule "never present an unrelated passage as the
answer" is plain, tested Python: the action only renders what this returns.

A question may name a text that is no longer in force ("环境保护法第二十五条", "老的大气法"). The
answer then first says so (`RepealNotice`): when and by what it was repealed, and which article
in force took the named one's place (`SUCCESSOR`), that none is known (`NO_SUCCESSOR`), the old
article itself when the owner asked for it (`OLD_TEXT`, labelled, with its successor), or, for
a text named without an article, that today's rules follow (`DOCUMENT`). What the result's
`reference` (a `DocumentReference`, knowledge/retrieval/pipeline.py) is the only source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum
from typing import Protocol

from knowledge.citations import (
    TITLE_CLOSE,
    TITLE_OPEN,
    article_label,
    clause_reference,
    format_citation,
)
from knowledge.language.question_splitter import split_questions
from knowledge.models import LEGISLATION_TYPES, Passage, SearchHit
from knowledge.retrieval.answer_fit import AnswerFitRules, Instead, default_rules
from knowledge.retrieval.cross_references import CrossReferenceMap
from knowledge.retrieval.pipeline import DocumentReference, SearchResult

# A second clause is worth mentioning when it scores close to the best one.
SEE_ALSO_RATIO = 0.75


class AnswerKind(str, Enum):
    ANSWER = "answer"
    CLARIFY = "clarify"  # two or three articles are plausible: the owner picks one
    NOT_COVERED = "not_covered"  # understood as a policy question, but the text is silent
    NOT_UNDERSTOOD = "not_understood"  # neither NLU nor retrieval found a meaning


class RepealKind(str, Enum):
    SUCCESSOR = "successor"  # the named article's successor in force is the answer
    NO_SUCCESSOR = "no_successor"  # no article in force is known to have taken its place
    OLD_TEXT = "old_text"  # the repealed article itself (asked for), then its successor
    DOCUMENT = "document"  # the text was named without an article: today's rules follow


@dataclass(frozen=True)
class RepealNotice:
    """What an answer about a text no longer in force says before anything else."""

    kind: RepealKind
    title: str  # the repealed text, without book-title marks: 中华人民共和国环境保护法
    repealed_on: str  # 2026年8月15日
    repealed_by: str  # the repealing text, without marks; "" when the knowledge base has none
    article: str = ""  # the article the owner named: 第二十五条
    # Where the named article lives on, as a citation: 《…法典》第五十二条 (several articles:
    # 《…法典》第二百五十六条、第二百五十五条); "" when no successor was found.
    successor: str = ""
    reviewed: bool = True  # the successor link was checked by staff
    # OLD_TEXT: the successor's wording, quoted after the old text, and its citation.
    current_text: str = ""
    current_citation: str = ""

    @property
    def unreviewed(self) -> bool:
        """A successor was named from a link nobody has checked yet: say so."""
        return bool(self.successor) and not self.reviewed


CHOICE_SNIPPET_CHARS = 14  # of an article's text, in a choice button's title


@dataclass(frozen=True)
class Choice:
    """One article a "which do you mean" offers: a short title for the button, the message its
    button sends (which looks the article up by number, or names the opinion's item), and the
    citation."""

    title: str
    payload: str
    citation: str


def choice_of(hit: SearchHit) -> Choice:
    p = hit.passage
    doc = hit.document
    name = bare_title(doc.get("short_title") or doc.get("title") or "")
    if hit.passage.item_no is not None and doc.get("doc_type") in LEGISLATION_TYPES:
        where = f"第{p.item_no}条"
        snippet = p.text[:CHOICE_SNIPPET_CHARS] + ("…" if len(p.text) > CHOICE_SNIPPET_CHARS
                                                   else "")
        return Choice(f"{name}{where}：{snippet}", f"{name}{where}",
                      cite(p.citation, p.item_title))
    label = p.item_title or p.text[:CHOICE_SNIPPET_CHARS]
    title = f"{name}：{label}" if name else label
    return Choice(title, title, cite(p.citation, p.item_title))


@dataclass(frozen=True)
class GoverningRule:
    """The quoted article names a repealed law: which, since when, and the article in force
    that governs the matter now (its citation and first paragraph; "" when none is known)."""

    repealed_title: str
    repealed_on: str
    citation: str
    text: str
    reviewed: bool


@dataclass(frozen=True)
class OppositeCase:
    """The question states a condition of the owner's enterprise that is the opposite of the
    best clause's own ("我们排放一直达标" against "不能稳定达标排放的企业…关停取缔"): the reply
    says so instead of quoting that clause as if it applied."""

    stated: str  # 排放达标
    clause_case: str  # 不能稳定达标排放或超标排放
    # The clause about the opposite case (named, not quoted): without the document's title
    # when the clause quoted instead names the same document (工作原则 第2条（…）).
    citation: str


@dataclass(frozen=True)
class PolicyAnswer:
    kind: AnswerKind
    text: str = ""
    citation: str = ""
    see_also: list[str] = field(default_factory=list)
    passage_ids: list[str] = field(default_factory=list)
    question: str = ""
    # For NOT_UNDERSTOOD: item titles near the question, offered as "did you mean".
    suggestions: list[str] = field(default_factory=list)
    # What retrieval found, whatever the outcome: staff review it in the console.
    evidence: list[dict] = field(default_factory=list)
    # The question named a text no longer in force: said first, whatever the outcome.
    repeal: RepealNotice | None = None
    # For CLARIFY: the articles the owner chooses between.
    choices: list[Choice] = field(default_factory=list)
    # The quoted article points to a repealed law: the rules in force that govern instead.
    governing: list[GoverningRule] = field(default_factory=list)
    # What the question asks for that the quoted clause does not give ("金额", "办理流程"):
    # the reply says the text does not say it and offers a human. "" when it answers.
    missing: str = ""
    # The best clause was about the opposite case of the owner's: ANSWER quotes the clause
    # for the owner's own case after saying so; NOT_COVERED says so and declines.
    opposite: OppositeCase | None = None

    @property
    def needs_human(self) -> bool:
        """The reply offers a person: the text leaves part of the question open."""
        return bool(self.missing) or (self.opposite is not None
                                      and self.kind is not AnswerKind.ANSWER)

    @property
    def citations(self) -> list[str]:
        """Every clause this answer quotes or points to, for staff review and feedback."""
        if self.kind is not AnswerKind.ANSWER:
            return []
        current = self.repeal.current_citation if self.repeal else ""
        governing = [g.citation for g in self.governing if g.citation]
        return [self.citation, *([current] if current else []), *governing, *self.see_also]


def cite(citation: str, item_title: str) -> str:
    """A passage's citation as answers show it: the opinion's items add their title
    (《…意见》工作任务 第1条（制定正向鼓励清单）); a law's article, which has none, is cited
    exactly as its passage is (《中华人民共和国生态环境法典》第五十二条): replies never wrap a
    citation in book-title marks again."""
    return f"{citation}（{item_title}）" if item_title else citation


def bare_title(title: str) -> str:
    """A document title without book-title marks: replies put them around it exactly once."""
    title = title.strip()
    if title.startswith(TITLE_OPEN) and title.endswith(TITLE_CLOSE):
        return title[len(TITLE_OPEN):-len(TITLE_CLOSE)].strip()
    return title


def chinese_date(iso: str) -> str:
    """2026-08-15 -> 2026年8月15日; anything else is returned as it is."""
    try:
        day = date.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    return f"{day.year}年{day.month}月{day.day}日"


EVIDENCE_HITS = 3
EVIDENCE_CHARS = 120


def retrieval_evidence(result: SearchResult) -> list[dict]:
    """The top passages with their scores, kept small enough to live in the tracker."""
    return [{"passage_id": h.passage.passage_id,
             "citation": cite(h.passage.citation, h.passage.item_title),
             "score": round(float(h.score), 4),
             "text": h.passage.text[:EVIDENCE_CHARS],
             "generation": result.generation,
             "answerable": result.answerable}
            for h in result.hits[:EVIDENCE_HITS]]


def _repealed_reference(result: SearchResult) -> DocumentReference | None:
    ref = result.reference
    return ref if ref is not None and not ref.in_force else None


def article_citations(hits: list[SearchHit]) -> str:
    """The articles the hits quote, in their order, as one citation: the first in full, the
    others by article (《…法典》第二百五十六条、第二百五十五条)."""
    citations = list(dict.fromkeys(cite(h.passage.citation, h.passage.item_title)
                                   for h in hits))
    if not citations:
        return ""
    first = citations[0]
    document = first[:len(first) - len(clause_reference(first))]  # 《…》, when it has a where
    return "、".join([first, *(clause_reference(c) if document and c.startswith(document) else c
                              for c in citations[1:])])


def repeal_notice(result: SearchResult) -> RepealNotice | None:
    """What must be said first because the question names a text no longer in force; None
    when it names none (or one in force)."""
    ref = _repealed_reference(result)
    if ref is None:
        return None
    base = {"title": bare_title(ref.title or ref.alias),
            "repealed_on": chinese_date(ref.repealed),
            "repealed_by": bare_title(ref.repealed_by_title)}
    if ref.article is None:
        return RepealNotice(RepealKind.DOCUMENT, **base)
    article = article_label(ref.article)
    link = ref.successor
    reviewed = link.reviewed if link else True
    if result.hits and not result.hits[0].in_force:
        # The repealed article itself (asked for, or an audit retriever that sees it): its
        # successor is looked up afterwards (`with_current_text`).
        return RepealNotice(RepealKind.OLD_TEXT, article=article, reviewed=reviewed, **base)
    if link and result.answerable and result.hits:
        successor = article_citations(result.hits)
        return RepealNotice(RepealKind.SUCCESSOR, article=article, successor=successor,
                            reviewed=reviewed, **base)
    return RepealNotice(RepealKind.NO_SUCCESSOR, article=article, **base)


def article_text(passages: list[Passage]) -> str:
    """An article's paragraphs, one a line, from its passages: an item's passage repeats the
    lead-in of its paragraph ("…之一的：（二）…"), which is written once."""
    lines: list[str] = []
    leads: set[str] = set()
    for passage in passages:
        text = passage.text
        cut = max(text.find("：（"), text.find("：("))
        if cut >= 0:
            lead = text[:cut + 1]
            if lead in leads:
                text = text[cut + 1:]
            leads.add(lead)
        lines.append(text)
    return "\n".join(lines)


def compose_answer(result: SearchResult, understood_as_policy_question: bool) -> PolicyAnswer:
    """Builds the answer from the best passage, or says why there is none."""
    evidence = retrieval_evidence(result)
    notice = repeal_notice(result)
    if not result.answerable and result.choices:
        return PolicyAnswer(AnswerKind.CLARIFY, question=result.query, evidence=evidence,
                            choices=[choice_of(h) for h in result.choices], repeal=notice)
    if not result.answerable or not result.hits:
        # A question that names a document is a question about it, whatever NLU made of it.
        named = result.reference is not None
        if understood_as_policy_question or named:
            return PolicyAnswer(AnswerKind.NOT_COVERED, question=result.query, evidence=evidence,
                                repeal=notice)
        titles = [h.passage.item_title for h in result.hits if h.passage.item_title]
        return PolicyAnswer(AnswerKind.NOT_UNDERSTOOD, question=result.query,
                            suggestions=list(dict.fromkeys(titles))[:3], evidence=evidence)
    best = result.hits[0]
    # A clause is named once: by (document, clause), since two laws both have a 第52条.
    seen = {(best.passage.doc_id, best.passage.clause_key)}
    if notice is not None and notice.kind is RepealKind.SUCCESSOR:
        # The notice names every successor article already.
        seen |= {(h.passage.doc_id, h.passage.clause_key) for h in result.hits}
    see_also: list[str] = []
    for hit in result.hits[1:]:
        p = hit.passage
        key = (p.doc_id, p.clause_key)
        if hit.score >= SEE_ALSO_RATIO * best.score and key not in seen:
            seen.add(key)
            see_also.append(cite(p.citation, p.item_title))
    text = best.passage.text
    if "article" in result.legs:  # "法典第五十二条说的什么": the whole article is the answer
        text = article_text([h.passage for h in result.hits
                             if (h.passage.doc_id, h.passage.clause_key) ==
                             (best.passage.doc_id, best.passage.clause_key)])
    return PolicyAnswer(
        kind=AnswerKind.ANSWER,
        text=text,
        citation=cite(best.passage.citation, best.passage.item_title),
        see_also=see_also,
        passage_ids=[h.passage.passage_id for h in result.hits],
        question=result.query,
        evidence=evidence,
        repeal=notice,
    )


def successor_queries(result: SearchResult,
                      documents: Mapping[str, dict] | None = None) -> list[str]:
    """Questions that look up the successor articles of the repealed article the result
    quotes ("中华人民共和国生态环境法典第五十二条"); [] when no successor is known."""
    ref = _repealed_reference(result)
    link = ref.successor if ref else None
    if ref is None or link is None:
        return []
    title = (documents or {}).get(link.doc_id, {}).get("title", "")
    if not title and link.doc_id == ref.repealed_by:
        title = ref.repealed_by_title
    if not title:
        return []
    return [f"{bare_title(title)}{article_label(int(n))}" for n in link.articles]


class ArticleLibrary(Protocol):
    """What answers look up by article rather than by searching (the live index)."""

    @property
    def documents(self) -> dict[str, dict]: ...

    @property
    def cross_references(self) -> CrossReferenceMap: ...

    def article(self, doc_id: str, number: int) -> list[Passage]: ...


def _article_hit(library: ArticleLibrary, doc_id: str, number: int) -> SearchHit | None:
    passages = library.article(doc_id, number)
    doc = library.documents.get(doc_id, {})
    if not passages or not doc.get("in_force", True):
        return None
    return SearchHit(passages[0], 1.0, 1, doc)


def with_current_text(answer: PolicyAnswer, result: SearchResult,
                      search: Callable[[str], SearchResult],
                      documents: Mapping[str, dict] | None = None,
                      library: ArticleLibrary | None = None) -> PolicyAnswer:
    """The old text of a repealed article is never shown alone: its successor in force is
    looked up by article (or, without a library, searched) and quoted after it."""
    notice = answer.repeal
    if answer.kind is not AnswerKind.ANSWER or notice is None \
            or notice.kind is not RepealKind.OLD_TEXT:
        return answer
    hits: list[SearchHit] = []
    ref = _repealed_reference(result)
    link = ref.successor if ref else None
    if library is not None:
        found_hits = ((_article_hit(library, link.doc_id, int(n)) for n in link.articles)
                      if link else ())
        hits = [h for h in found_hits if h is not None]
    else:
        for query in successor_queries(result, documents):
            found = search(query)
            if found.answerable and found.hits and found.hits[0].in_force:
                hits.append(found.hits[0])
    if not hits:
        return answer
    first = hits[0].passage
    return replace(answer, repeal=replace(
        notice, successor=article_citations(hits), current_text=first.text,
        current_citation=cite(first.citation, first.item_title)))


def with_governing_rules(answer: PolicyAnswer, result: SearchResult,
                         library: ArticleLibrary | None) -> PolicyAnswer:
    """An article in force that sends the reader to a repealed law ("依照《环境影响评价法》的规定
    处罚") is never quoted alone: the repeal and the Code article that governs now follow it
    (knowledge/data/cross_references.yml, reviewed like the successor links)."""
    if answer.kind is not AnswerKind.ANSWER or library is None or not result.hits:
        return answer
    top = result.hits[0].passage
    if top.item_no is None:
        return answer
    rules = []
    documents = library.documents
    for ref in library.cross_references.get((top.doc_id, top.item_no), ()):
        if ref.phrase and ref.phrase not in top.text and not any(
                ref.phrase in h.passage.text for h in result.hits
                if (h.passage.doc_id, h.passage.item_no) == (top.doc_id, top.item_no)):
            continue  # another paragraph of the article names the repealed law
        repealed = documents.get(ref.repealed_doc_id, {})
        hits = [h for h in (_article_hit(library, d, n) for d, n in ref.governing) if h]
        rules.append(GoverningRule(
            repealed_title=bare_title(repealed.get("title") or ref.repealed_doc_id),
            repealed_on=chinese_date(repealed.get("repealed") or ""),
            citation=article_citations(hits), text=hits[0].passage.text if hits else "",
            reviewed=ref.reviewed))
    return replace(answer, governing=rules) if rules else answer


# How deep in a part's own ranking the whole message's best clause may be to answer it.
VOUCH_DEPTH = 3


def _clause_key(hit: SearchHit) -> tuple[str, str]:
    return (hit.passage.doc_id, hit.passage.clause_key)


def _instead_hit(instead: Instead | None, result: SearchResult,
                 search: Callable[[str], SearchResult]) -> SearchHit | None:
    """The passage for the owner's own case: among the question's hits, or the one the
    rule's query finds, as long as it holds the rule's phrase and is in force."""
    if instead is None:
        return None
    for hit in result.hits:
        if instead.phrase in hit.passage.text and hit.in_force:
            return hit
    found = search(instead.query)
    return next((h for h in found.hits[:VOUCH_DEPTH]
                 if instead.phrase in h.passage.text and h.in_force), None)


def with_fit(answer: PolicyAnswer, result: SearchResult,
             search: Callable[[str], SearchResult],
             rules: AnswerFitRules | None = None) -> PolicyAnswer:
    """Checks the quoted clause against what was asked (knowledge/retrieval/answer_fit.py):
    a clause about the opposite case of the owner's is replaced by the clause for the owner's
    case (or the answer declines), and what the question asks for that the clause does not
    give is named, so the reply never passes a nearby sentence off as the answer."""
    if answer.kind is not AnswerKind.ANSWER or answer.repeal is not None or not result.hits:
        return answer
    rules = rules or default_rules()
    question = result.normalized_query or answer.question
    fit = rules.fit(question, answer.text)
    if fit.conflict is not None:
        hit = _instead_hit(fit.conflict.instead, result, search)
        if hit is None or hit.passage.passage_id == result.hits[0].passage.passage_id:
            return PolicyAnswer(AnswerKind.NOT_COVERED, question=answer.question,
                                evidence=answer.evidence, opposite=OppositeCase(
                                    fit.conflict.stated, fit.conflict.clause_case,
                                    answer.citation))
        p = hit.passage
        where = clause_reference(answer.citation) \
            if p.doc_id == result.hits[0].passage.doc_id else answer.citation
        answer = replace(answer, text=p.text, citation=cite(p.citation, p.item_title),
                         see_also=[], passage_ids=[p.passage_id], governing=[],
                         opposite=OppositeCase(fit.conflict.stated, fit.conflict.clause_case,
                                               where))
        fit = rules.fit(question, answer.text)
    return replace(answer, missing=fit.missing_label) if fit.missing else answer


def answer_result(result: SearchResult, search: Callable[[str], SearchResult],
                  understood_as_policy_question: bool,
                  documents: Mapping[str, dict] | None = None,
                  library: ArticleLibrary | None = None,
                  rules: AnswerFitRules | None = None) -> PolicyAnswer:
    """The answer to one question from its search result."""
    rules = rules or default_rules()
    # A question asking for an amount, a time or a procedure is a policy question even when
    # the NLU did not think so: it is declined honestly with a human, not "rephrase".
    understood = understood_as_policy_question or rules.asks_specifics(
        result.normalized_query or result.query)
    answer = compose_answer(result, understood)
    answer = with_governing_rules(answer, result, library)
    answer = with_current_text(answer, result, search, documents, library)
    return with_fit(answer, result, search, rules)


def answer_question(search: Callable[[str], SearchResult], question: str,
                    understood_as_policy_question: bool,
                    documents: Mapping[str, dict] | None = None,
                    library: ArticleLibrary | None = None,
                    rules: AnswerFitRules | None = None) -> PolicyAnswer:
    return answer_result(search(question), search, understood_as_policy_question, documents,
                         library, rules)


def vouched(part: SearchResult, whole: SearchResult,
            taken: set[tuple[str, str]]) -> SearchResult | None:
    """A part of a message too weak to answer on its own, answered by the clause the whole
    message's search is sure of, when that clause is also among the part's own best and no
    other part's answer quotes it ("哪些企业优先保障 还有偷排被抓到会怎么处理": the second part
    alone hesitates between two texts; the message as a whole settles it)."""
    if not whole.answerable or not whole.hits or whole.reference is not None:
        return None
    best = whole.hits[0]
    key = _clause_key(best)
    if key in taken or not best.in_force:
        return None
    own = [*part.choices, *part.hits[:VOUCH_DEPTH]]
    match = next((h for h in own if _clause_key(h) == key), None)
    if match is None:
        return None
    rest = [h for h in part.hits if _clause_key(h) != key]
    return replace(part, hits=[match, *rest], answerable=True, choices=(),
                   reason="vouched by the whole message")


def answer_message(
    search: Callable[[str], SearchResult], text: str, understood_as_policy_question: bool,
    documents: Mapping[str, dict] | None = None, library: ArticleLibrary | None = None,
    rules: AnswerFitRules | None = None,
) -> list[PolicyAnswer]:
    """Answers every question in a message; one answer when it asks one thing.

    Each part of a message that asks several things is answered or declined on its own; a
    part too weak on its own may be answered by the whole message's clause (`vouched`). When
    no part can be answered at all, the whole message is searched as one question.
    `documents` (`Retriever.documents`) names the successor texts of repealed ones.
    """
    questions = split_questions(text)
    if len(questions) > 1:
        results = [search(q) for q in questions]
        answers = [answer_result(r, search, True, documents, library, rules) for r in results]
        weak = [i for i, a in enumerate(answers) if a.kind is not AnswerKind.ANSWER]
        if weak:
            whole = search(text)
            taken = {_clause_key(r.hits[0]) for r, a in zip(results, answers, strict=True)
                     if a.kind is AnswerKind.ANSWER and r.hits}
            for i in weak:
                promoted = vouched(results[i], whole, taken)
                if promoted is not None:
                    answers[i] = answer_result(promoted, search, True, documents, library,
                                               rules)
                    taken.add(_clause_key(promoted.hits[0]))
        if any(a.kind is AnswerKind.ANSWER for a in answers):
            return answers
    return [answer_question(search, text, understood_as_policy_question, documents, library,
                            rules)]


# -- what the assistant can answer from ---------------------------------------------------
# The documents a greeting names first: the opinion, then the laws by rank.
SCOPE_ORDER = ("provincial_policy", "law", "administrative_regulation", "ministry_rule")
SCOPE_NAMED = 2  # how many documents a reply names; the rest are counted


@dataclass(frozen=True)
class Scope:
    """The documents in force the knowledge base answers from, as replies name them."""

    names: list[str]  # the first SCOPE_NAMED, each in book-title marks: 《差别化管控意见》
    count: int  # all documents in force

    @property
    def listed(self) -> str:
        """《差别化管控意见》《生态环境法典》: the names, as Chinese runs titles together."""
        return "".join(self.names)

    @property
    def more(self) -> bool:
        """Some documents in force are counted, not named."""
        return self.count > len(self.names)


def scope_of(documents: Mapping[str, dict]) -> Scope:
    """Scope from `Retriever.documents` (doc_id -> record): the texts in force, the opinion
    first, then laws, regulations and rules, the most recent first within a kind."""
    live = [(doc_id, doc) for doc_id, doc in documents.items() if doc.get("in_force", True)]

    def kind(item: tuple[str, dict]) -> int:
        doc_type = item[1].get("doc_type", "")
        return SCOPE_ORDER.index(doc_type) if doc_type in SCOPE_ORDER else len(SCOPE_ORDER)

    # Stable sorts, last key first: by kind, then the most recent, then the doc_id.
    ordered = sorted(live, key=lambda item: item[0])
    ordered.sort(key=lambda item: str(item[1].get("effective") or ""), reverse=True)
    ordered.sort(key=kind)
    names = [format_citation(bare_title(doc.get("short_title") or doc.get("title") or doc_id),
                             "")
             for doc_id, doc in ordered[:SCOPE_NAMED]]
    return Scope(names, len(live))
