"""Finds a reference to a document, or to one of its articles, in an owner's question.

"法典第五十二条说的什么", "排污许可管理条例第33条", "环境保护法第二十五条怎么规定的", "老的大气法里
说重污染天气要停产吗": the document is named by one of its aliases (the sources manifest's
`aliases`, short title or title, recorded in the index generation), the article by its number in
words or digits. Matching is on the normalised query; the longest alias wins (环境保护法 over 环保).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.citations import chinese_number

_ARTICLE = re.compile(r"第\s*([一二三四五六七八九十百千零〇两]{1,8}|\d{1,4})\s*条")
# The owner wants the repealed wording itself, not today's rule.
_OLD_TEXT = re.compile(
    r"原文|旧版|老版|原来的规定|以前怎么规定|当时怎么规定|历史版本|废止前|修改前")


@dataclass(frozen=True)
class ArticleReference:
    doc_id: str
    alias: str  # the words the owner used
    article: int | None  # None: the document is named without an article
    wants_old_text: bool


def _aliases(documents: Mapping[str, dict]) -> list[tuple[str, str]]:
    pairs = []
    for doc_id, doc in documents.items():
        names = {*doc.get("aliases", ()), doc.get("short_title", ""), doc.get("title", "")}
        pairs += [(name.lower(), doc_id) for name in names if name and len(name) >= 2]
    return sorted(pairs, key=lambda p: -len(p[0]))


def find_reference(query: str, documents: Mapping[str, dict]) -> ArticleReference | None:
    """The document (and article) the normalised query names, or None."""
    for alias, doc_id in _aliases(documents):
        at = query.find(alias)
        if at < 0:
            continue
        after = query[at + len(alias):]
        article = _ARTICLE.match(after.lstrip("的 "))
        number = chinese_number(article.group(1).replace("两", "二")) if article else None
        return ArticleReference(doc_id, alias, number, bool(_OLD_TEXT.search(query)))
    return None


@dataclass(frozen=True)
class Successor:
    """Where an article of a repealed text lives on: the articles of its successor text."""

    doc_id: str  # the successor text (the repealing one)
    articles: tuple[int, ...]
    reviewed: bool  # checked by staff; unreviewed links are found by text similarity
    similarity: float | None = None


SuccessorMap = dict[tuple[str, int], Successor]


def load_successors(path: Path) -> SuccessorMap:
    """knowledge/data/successors.yml: old doc_id -> article -> successor articles.

    Written by `bin/kb successors --write` (text similarity), corrected by staff (`reviewed`)."""
    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: SuccessorMap = {}
    for old_doc, entry in (data.get("documents") or {}).items():
        successor_doc = str(entry.get("successor") or "")
        for number, link in (entry.get("articles") or {}).items():
            articles = link.get("to") if isinstance(link, dict) else link
            if isinstance(articles, int):
                articles = [articles]
            if not successor_doc or not articles:
                continue
            out[(str(old_doc), int(number))] = Successor(
                successor_doc, tuple(int(a) for a in articles),
                bool(link.get("reviewed", False)) if isinstance(link, dict) else False,
                link.get("similarity") if isinstance(link, dict) else None)
    return out


LegalBasisMap = dict[tuple[str, str], tuple[tuple[str, int], ...]]


def load_legal_basis(path: Path) -> LegalBasisMap:
    """knowledge/data/legal_basis.yml: (doc_id, clause_key) -> ((law doc_id, article), ...)."""
    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: LegalBasisMap = {}
    for doc_id, clauses in data.items():
        for clause_key, refs in (clauses or {}).items():
            parsed = []
            for ref in refs or ():
                doc, _, number = str(ref).partition("#")
                if not number.isdigit():
                    raise ValueError(f"{path}: {doc_id} {clause_key}: {ref!r} is not doc_id#N")
                parsed.append((doc, int(number)))
            out[(str(doc_id), str(clause_key))] = tuple(parsed)
    return out
