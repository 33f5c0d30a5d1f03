"""What "详细说说" adds to a policy answer: the whole clause the quoted sentence comes from, and
the articles in force it rests on (knowledge/data/legal_basis.yml), each with its citation.

An answer quotes one sentence (a passage); the owner who wants more gets the rest of that
clause from the store, never a paraphrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.models import Passage
from knowledge.retrieval.answering import cite
from knowledge.retrieval.retriever import Retriever
from knowledge.store.clause_store import ClauseStore

# The first provision of a basis article is enough to say what it is about (cut on a phone).
_FIRST_PROVISION = re.compile(r"(?<=[。；;])")
MAX_BASIS_CHARS = 90
MAX_DETAILS = 2


@dataclass(frozen=True)
class BasisArticle:
    citation: str
    text: str  # the article's first provision


@dataclass(frozen=True)
class AnswerDetail:
    citation: str
    text: str  # the whole clause
    basis: tuple[BasisArticle, ...] = ()


def answer_details(retriever: Retriever, store: ClauseStore,
                   passage_ids: list[str]) -> list[AnswerDetail]:
    """The clauses behind the last answer's passages (at most MAX_DETAILS, each once).

    Passages of an older index generation are skipped: a publish since the answer may
    have changed the text, and a stale clause must not be quoted as current.
    """
    details: list[AnswerDetail] = []
    seen: set[tuple[str, str, str]] = set()
    for pid in passage_ids:
        passage = retriever.passage(pid)
        if passage is None:
            continue
        key = (passage.doc_id, passage.version, passage.clause_key)
        if key in seen:
            continue
        seen.add(key)
        clause = store.clause(*key)
        text = clause.text if clause is not None else passage.text
        details.append(AnswerDetail(cite(passage.citation, passage.item_title), text,
                                    _basis(retriever, passage)))
        if len(details) >= MAX_DETAILS:
            break
    return details


def _basis(retriever: Retriever, passage: Passage) -> tuple[BasisArticle, ...]:
    out = []
    for ref in retriever.legal_basis(passage):
        parts = retriever.article(ref["doc_id"], ref["article"])
        if not parts:
            continue
        first = _FIRST_PROVISION.split(" ".join(p.text for p in parts), maxsplit=1)[0]
        first = first.rstrip("；;")
        if len(first) > MAX_BASIS_CHARS:
            first = first[:MAX_BASIS_CHARS] + "…"
        out.append(BasisArticle(ref["citation"], first))
    return tuple(out)
