"""Turns a cleaned policy document into clauses and sentence passages.

Chinese policy notices are laid out as: headline, lead paragraph, short section headings
(工作原则 / 工作任务 / 保障措施) and numbered items ("1、制定正向鼓励清单" or "1把握优先保障范围"),
whose first line is the item title. Citations name section and item, so the parser keeps
that path for every sentence.
"""

from __future__ import annotations

import re

from knowledge.citations import chinese_number, format_citation
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import LEAD_SECTION, Clause, DocumentInfo, ParsedDocument, Passage

_ITEM_HEADING = re.compile(r"^(\d{1,2})\s*[、.．]?\s*(\D.{0,30})$")  # "1、制定清单", "1把握…"
_ITEM_WITH_BODY = re.compile(r"^(\d{1,2})\s*[、.．]\s*(\D.*)$")  # "1. 企业应当……。"
_PAREN_ITEM = re.compile(r"^[（(]([一二三四五六七八九十]{1,3})[）)]\s*(.+)$")  # "（一）强化…"
_NUMBERED_SECTION = re.compile(r"^([一二三四五六七八九十]{1,3})\s*[、.．]\s*([^。；;]{1,30})$")
_CHAPTER = re.compile(r"^第([一二三四五六七八九十百零〇]{1,4}|\d{1,3})章\s*(.{0,30})$")
_ARTICLE = re.compile(r"^第([一二三四五六七八九十百零〇]{1,5}|\d{1,3})条\s*(.*)$")
_SENTENCE_END = re.compile(r"(?<=[。；;！？!?])")
_SECTION_MAX_LEN = 12
_TITLE_MAX_LEN = 30
_SENTENCE_PUNCT = re.compile(r"[，。；;：:,！？!?“”]")
_LEAD_SENTENCE = re.compile(rf"^([^。；;：:，,]{{1,{_TITLE_MAX_LEN}}})[。：:]\s*(.+)$")

# How a section numbers its items; the first style seen in a section is its item style,
# markers of other styles inside an item are its sub-points (kept in the item's text).
ARABIC, PAREN, ARTICLE = "1、", "（一）", "第X条"


def _is_section_heading(line: str) -> bool:
    return (
        len(line) <= _SECTION_MAX_LEN
        and not _SENTENCE_PUNCT.search(line)
        and not line[0].isdigit()
        and not _PAREN_ITEM.match(line)
    )


def _section_name(line: str) -> str | None:
    """The section a heading opens, or None: 一、总体要求 → 总体要求; 第一章 总则 stays whole."""
    if _CHAPTER.match(line):
        return re.sub(r"\s+", " ", line)
    numbered = _NUMBERED_SECTION.match(line)
    if numbered:
        return numbered.group(2).strip()
    return line if _is_section_heading(line) else None


def _title_and_body(rest: str) -> tuple[str, str]:
    """'强化源头管控。各地要……' → ('强化源头管控', '各地要……'); a short bare line is a title."""
    rest = rest.strip()
    if len(rest) <= _TITLE_MAX_LEN and not re.search(r"[。；;！？!?]$", rest):
        return rest, ""
    lead = _LEAD_SENTENCE.match(rest)
    if lead:
        return lead.group(1), lead.group(2)
    return "", rest


def _item_marker(line: str) -> tuple[str, int, str, str] | None:
    """(style, number, title, body) when the line opens a numbered item."""
    m = _ARTICLE.match(line)
    if m and (n := chinese_number(m.group(1))) is not None:
        return ARTICLE, n, "", m.group(2).strip()
    m = _PAREN_ITEM.match(line)
    if m and (n := chinese_number(m.group(1))) is not None:
        return (PAREN, n, *_title_and_body(m.group(2)))
    m = _ITEM_HEADING.match(line)
    if m:
        return ARABIC, int(m.group(1)), m.group(2).strip(), ""
    m = _ITEM_WITH_BODY.match(line)
    if m:
        return (ARABIC, int(m.group(1)), *_title_and_body(m.group(2)))
    return None


def split_sentences(text: str) -> list[str]:
    """Splits an item body into sentences at full stops and semicolons."""
    parts = (p.strip() for line in text.splitlines() for p in _SENTENCE_END.split(line))
    return [p for p in parts if len(p) > 1]


def clause_citation(info: DocumentInfo, section: str, item_no: int | None) -> str:
    where = section if item_no is None else f"{section} 第{item_no}条".strip()
    return format_citation(info.title, where)


class ClauseParser:
    """Parses one document version; reports lines it could not place instead of guessing."""

    def __init__(self, normalizer: TextNormalizer) -> None:
        self.normalizer = normalizer

    def parse(self, raw_text: str, info: DocumentInfo) -> ParsedDocument:
        lines, dropped = [], []
        for raw in raw_text.splitlines():
            line = self.normalizer.document_text(raw)
            if not line:
                continue
            (dropped if self.normalizer.is_boilerplate(line) else lines).append(line)
        if not lines:
            raise ValueError(f"{info.doc_id}: document has no text after cleaning")

        headline, body = lines[0], lines[1:]
        # section, item no (None: the section's own text before its items), title, body
        blocks: list[tuple[str, int | None, str, list[str]]] = []
        sections: list[str] = []
        unplaced: list[str] = []
        lead: list[str] = []
        section: str | None = None
        style: str | None = None  # the section's item style, set by its first item
        next_item_no = 1  # numbering restarts in every section; "2019年…" is never an item
        for line in body:
            marker = _item_marker(line)
            if marker is not None and marker[0] == ARTICLE and section is None:
                section, style = "", ARTICLE  # articles without chapters: 《办法》第3条
                sections.append(section)
            if marker is not None and section is not None and style in (None, marker[0]):
                kind, number, title, first = marker
                expected = number == next_item_no or (kind == ARTICLE and number >= next_item_no)
                if expected:
                    style = kind
                    blocks.append((section, number, title, [first] if first else []))
                    next_item_no = number + 1
                    continue
                if style == kind:  # a marker out of sequence: kept in the text, reported
                    unplaced.append(line)
            name = None if marker is not None and marker[0] == ARTICLE else _section_name(line)
            if name is not None:
                section, style, next_item_no = name, None, 1
                sections.append(section)
                continue
            if section is None:
                lead.append(line)
            elif blocks and blocks[-1][0] == section:
                blocks[-1][3].append(line)
            else:  # the section's own text before its first item
                blocks.append((section, None, "", [line]))

        clauses: list[Clause] = []
        passages: list[Passage] = []
        if lead:
            blocks.insert(0, (LEAD_SECTION, None, "", lead))
        for section_name, item_no, title, body_lines in blocks:
            if item_no is None:
                key = section_name
            else:
                key = f"{section_name}/{item_no}" if section_name else f"第{item_no}条"
            citation = clause_citation(info, section_name, item_no)
            text = "\n".join(body_lines)
            clauses.append(
                Clause(info.doc_id, info.version, key, section_name, item_no, title, text, citation)
            )
            for n, sentence in enumerate(split_sentences(text) or [title], start=1):
                passages.append(
                    Passage(
                        passage_id=f"{info.doc_id}@{info.version}#{key}#{n}",
                        doc_id=info.doc_id,
                        version=info.version,
                        clause_key=key,
                        section=section_name,
                        item_no=item_no,
                        item_title=title,
                        sentence_no=n,
                        text=sentence,
                        citation=citation,
                    )
                )
        return ParsedDocument(info, headline, clauses, passages, sections, unplaced, dropped)
