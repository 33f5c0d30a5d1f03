"""Grading what an owner sees: a reply to one question, or a scripted dialogue turn.

Plain functions over reply text, so that the grading itself is unit-tested without servers.
A reply is *right* when it carries a citation and its first cited answer contains the gold
(a substring of the clause, or a law article named by document and article number), *wrong*
when it is cited without the gold, and *declined* otherwise (not covered, not understood, a
question back). On an out-of-scope probe any cited answer is *invented*.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from knowledge.citations import article_label

# Every answer that quotes a clause ends its quote with this line (domain.yml).
CITATION_MARK = "——出自"
# A "which of these do you mean" (utter_choose_article) asks the owner to pick one.
CHOICE_MARK = "请点选"
# What no reply may ever show, whatever the turn: a template slot left unfilled, a traceback.
ALWAYS_FORBIDDEN = (r"\{[a-z_]+\}", r"Traceback \(most recent call last\)")


class Outcome(str, Enum):
    RIGHT = "right"
    WRONG = "wrong"
    DECLINED = "declined"
    CLARIFIED = "clarified"  # a short choice of articles, the gold among them
    CLARIFIED_WITHOUT_GOLD = "clarified_without_gold"  # a choice that misses the gold
    INVENTED = "invented"
    REJECTED = "rejected"


def normal(text: str) -> str:
    """Full-width and compatibility forms folded, so that a gold copied from the scrape
    matches the quote however its punctuation was encoded."""
    return unicodedata.normalize("NFKC", text)


def first_cited_answer(reply: str) -> str:
    """The reply up to the end of its first citation line: the answer the owner reads first
    (a "see also" line after it is not the answer)."""
    at = reply.find(CITATION_MARK)
    if at < 0:
        return ""
    end = reply.find("\n", at)
    return reply if end < 0 else reply[:end]


@dataclass(frozen=True)
class LawGold:
    """An article of a law as the gold of a question: `doc_id#52`."""

    doc_id: str
    article: int

    @classmethod
    def parse(cls, gold: str) -> LawGold | None:
        doc_id, sep, number = gold.partition("#")
        if not sep or not number.isdigit():
            return None
        return cls(doc_id.strip(), int(number))


@dataclass(frozen=True)
class DocumentNames:
    """How a reply may name each document: its title, short title and aliases."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def cites(self, answer: str, gold: LawGold) -> bool:
        names = self.names.get(gold.doc_id)
        if not names:
            raise KeyError(f"gold names an unknown document: {gold.doc_id}")
        return article_label(gold.article) in answer and any(n in answer for n in names)

    def offers(self, reply: str, gold: LawGold) -> bool:
        """A choice line names the article (its buttons write the number in digits)."""
        names = self.names.get(gold.doc_id, ())
        return any(any(n in line for n in names)
                   and (f"第{gold.article}条" in line or article_label(gold.article) in line)
                   for line in reply.splitlines())


def grade_answer(reply: str, golds: Iterable[str], documents: DocumentNames) -> Outcome:
    answer = normal(first_cited_answer(reply))
    if not answer:
        if CHOICE_MARK in reply:
            offered = any((documents.offers(reply, law) if (law := LawGold.parse(g))
                           else normal(g) in normal(reply)) for g in golds)
            return Outcome.CLARIFIED if offered else Outcome.CLARIFIED_WITHOUT_GOLD
        return Outcome.DECLINED
    for gold in golds:
        law = LawGold.parse(gold)
        if law is not None:
            if documents.cites(answer, law):
                return Outcome.RIGHT
        elif normal(gold) in answer:
            return Outcome.RIGHT
    return Outcome.WRONG


def grade_out_of_scope(reply: str) -> Outcome:
    return Outcome.INVENTED if CITATION_MARK in reply else Outcome.REJECTED


@dataclass(frozen=True)
class TurnCheck:
    """One scripted turn: what the owner says, what the reply must and must not contain."""

    user: str
    expect: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()


def turn_failures(reply: str, turn: TurnCheck, always_forbidden: Iterable[str]) -> list[str]:
    """Why the reply fails the turn ([] when it passes): each missing expected pattern and
    each forbidden one found, named."""
    failures = [f"missing /{p}/" for p in turn.expect if not re.search(p, reply)]
    failures += [f"forbidden /{p}/" for p in (*turn.forbid, *always_forbidden)
                 if re.search(p, reply)]
    return failures
