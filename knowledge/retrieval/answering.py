"""Decides what a search result lets the assistant say, and with which citations.

Kept apart from the Rasa action so the rule "never present an unrelated passage as the
answer" is plain, tested Python: the action only renders what this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from knowledge.language.question_splitter import split_questions
from knowledge.retrieval.retriever import SearchResult

# A second clause is worth mentioning when it scores close to the best one.
SEE_ALSO_RATIO = 0.75


class AnswerKind(str, Enum):
    ANSWER = "answer"
    NOT_COVERED = "not_covered"  # understood as a policy question, but the text is silent
    NOT_UNDERSTOOD = "not_understood"  # neither NLU nor retrieval found a meaning


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


def cite(citation: str, item_title: str) -> str:
    return f"{citation}（{item_title}）" if item_title else citation


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


def compose_answer(result: SearchResult, understood_as_policy_question: bool) -> PolicyAnswer:
    """Builds the answer from the best passage, or says why there is none."""
    evidence = retrieval_evidence(result)
    if not result.answerable or not result.hits:
        if understood_as_policy_question:
            return PolicyAnswer(AnswerKind.NOT_COVERED, question=result.query, evidence=evidence)
        titles = [h.passage.item_title for h in result.hits if h.passage.item_title]
        return PolicyAnswer(AnswerKind.NOT_UNDERSTOOD, question=result.query,
                            suggestions=list(dict.fromkeys(titles))[:3], evidence=evidence)
    best = result.hits[0]
    see_also: list[str] = []
    for hit in result.hits[1:]:
        p = hit.passage
        seen = {best.passage.clause_key, *see_also}
        if hit.score >= SEE_ALSO_RATIO * best.score and p.clause_key not in seen:
            see_also.append(cite(p.citation, p.item_title))
    return PolicyAnswer(
        kind=AnswerKind.ANSWER,
        text=best.passage.text,
        citation=cite(best.passage.citation, best.passage.item_title),
        see_also=see_also,
        passage_ids=[h.passage.passage_id for h in result.hits],
        question=result.query,
        evidence=evidence,
    )


def answer_message(
    search: Callable[[str], SearchResult], text: str, understood_as_policy_question: bool
) -> list[PolicyAnswer]:
    """Answers every question in a message; one answer when it asks one thing.

    A message is treated as several questions only when at least one part can be answered
    on its own; otherwise the whole message is searched as one question.
    """
    questions = split_questions(text)
    if len(questions) > 1:
        answers = [compose_answer(search(q), True) for q in questions]
        if any(a.kind is AnswerKind.ANSWER for a in answers):
            return answers
    return [compose_answer(search(text), understood_as_policy_question)]
