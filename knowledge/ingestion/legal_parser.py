"""Parses a Chinese law, administrative regulation or ministry rule into articles and passages.

Chinese legislation is laid out as 编 / 分编 / 章 / 节 headings over articles (第一条 …), each
article of one or more paragraphs (款), a paragraph sometimes ending in a colon and followed by
enumerated items (项: "（一）…的；"). Citations name the article by its own number in words,
as the gazette does: 《中华人民共和国生态环境法典》第一千一百零二条.

Passages are cut at 款 grain: a paragraph is one passage; an enumerated item is a passage of
its own *with the paragraph's lead-in in front*, because "（五）违反本法规定，查封、扣押…的"
on its own answers nothing, while "有下列行为之一的，处…罚款：（五）…的" does.

The parser never guesses: an article heading out of sequence, text before the first article
that is not a heading, or a heading of an unknown level is reported in `unplaced_lines`
(and kept in the surrounding text where it belongs to one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.citations import article_label, chinese_number, format_citation
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import Clause, DocumentInfo, ParsedDocument, Passage

_NUMERAL = "一二三四五六七八九十百千零〇两"
_ARTICLE = re.compile(rf"^第([{_NUMERAL}]{{1,8}}|\d{{1,4}})条(?:\s+|(?=[\u4e00-\u9fff（(“]))(.*)$")
_HEADING = re.compile(rf"^第([{_NUMERAL}]{{1,6}}|\d{{1,3}})(分编|编|章|节)\s*(\S.{{0,40}})?$")
_ITEM = re.compile(rf"^[（(]([{_NUMERAL}]{{1,4}})[）)]")
_HAN_GAP = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")  # "总 则" -> "总则"
_LEVELS = {"编": 0, "分编": 1, "章": 2, "节": 3}
def article_key(n: int) -> str:
    """The clause key of article n (unique within a law, whatever chapter it is in)."""
    return f"第{n}条"


def looks_like_legislation(lines: list[str], minimum: int = 5) -> bool:
    """Articles numbered from 第一条 on: the layout of a law, regulation or rule."""
    numbers = [chinese_number(m.group(1)) for line in lines if (m := _ARTICLE.match(line))]
    return len(numbers) >= minimum and numbers[0] == 1


@dataclass
class _Article:
    number: int
    label: str
    path: list[str]  # headings in force: 编, 分编, 章, 节
    paragraphs: list[str] = field(default_factory=list)


class LegalTextParser:
    """Parses one document version given as plain lines (knowledge/ingestion/markup.py)."""

    def __init__(self, normalizer: TextNormalizer) -> None:
        self.normalizer = normalizer

    def parse(self, lines: list[str], info: DocumentInfo) -> ParsedDocument:
        clean = [c for c in (self.normalizer.document_text(line) for line in lines) if c]
        if not clean:
            raise ValueError(f"{info.doc_id}: document has no text after cleaning")
        headline = clean[0]
        path: list[str | None] = [None, None, None, None]
        articles: list[_Article] = []
        sections: list[str] = []
        preamble: list[str] = []
        unplaced: list[str] = []
        for n, line in enumerate(clean[1:], start=2):
            heading = _HEADING.match(line)
            if heading and not line.endswith(("。", "；", "：")):
                level = _LEVELS[heading.group(2)]
                words = _HAN_GAP.sub("", re.sub(r"\s+", " ", heading.group(3) or "").strip())
                path[level] = f"第{heading.group(1)}{heading.group(2)} {words}".strip()
                for lower in range(level + 1, len(path)):
                    path[lower] = None
                sections.append(" ".join(p for p in path if p))
                continue
            article = _ARTICLE.match(line)
            number = chinese_number(article.group(1)) if article else None
            expected = articles[-1].number + 1 if articles else 1
            if number is not None and number == expected:
                articles.append(_Article(number, line[: line.index("条") + 1],
                                         [p for p in path if p]))
                body = article.group(2).strip()
                if body:
                    articles[-1].paragraphs.append(body)
                continue
            if number is not None:
                unplaced.append(f"line {n}: article {article.group(1)} out of sequence"
                                f" (expected {article_label(expected)}): {line[:40]}")
            if articles:
                articles[-1].paragraphs.append(line)
            elif any(path):
                unplaced.append(f"line {n}: text before the first article: {line[:40]}")
            else:
                preamble.append(line)

        clauses: list[Clause] = []
        passages: list[Passage] = []
        for art in articles:
            key = article_key(art.number)
            section = " ".join(art.path)
            citation = format_citation(info.title, art.label)
            if not art.paragraphs:
                unplaced.append(f"{art.label}: article without text")
            text = "\n".join(art.paragraphs)
            clauses.append(Clause(info.doc_id, info.version, key, section, art.number, "",
                                  text, citation))
            context = " ".join(_heading_words(h) for h in art.path[-2:])
            for m, passage_text in enumerate(self._passages(art.paragraphs), start=1):
                passages.append(Passage(
                    passage_id=f"{info.doc_id}@{info.version}#{key}#{m}",
                    doc_id=info.doc_id, version=info.version, clause_key=key, section=section,
                    item_no=art.number, item_title="", sentence_no=m, text=passage_text,
                    citation=citation, context=context))
        return ParsedDocument(info, headline, clauses, passages, sections, unplaced, preamble)

    @staticmethod
    def _passages(paragraphs: list[str]) -> list[str]:
        """款 as they are; each 项 with the lead-in of its 款 (the paragraph before the list)."""
        out: list[str] = []
        lead, listed = "", False
        for paragraph in paragraphs:
            if _ITEM.match(paragraph) and lead:
                out.append(f"{lead}{paragraph}")
                listed = True
                continue
            if lead and not listed:  # a lead-in whose list never came: keep it
                out.append(lead)
            lead, listed = (paragraph if paragraph.endswith(("：", ":")) else ""), False
            if not lead:
                out.append(paragraph)
        if lead and not listed:
            out.append(lead)
        return out


def _heading_words(heading: str) -> str:
    """'第二章 排污许可管理' → '排污许可管理': the words that help a search, not the number."""
    match = _HEADING.match(heading)
    return (match.group(3) or "").strip() if match else heading
