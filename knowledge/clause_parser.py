"""Turns a cleaned policy document into clauses and sentence passages.

Chinese policy notices are laid out as: headline, lead paragraph, short section headings
(工作原则 / 工作任务 / 保障措施) and numbered items ("1、制定正向鼓励清单" or "1把握优先保障范围"),
whose first line is the item title. Citations name section and item, so the parser keeps
that path for every sentence.
"""

from __future__ import annotations

import re

from knowledge.models import LEAD_SECTION, Clause, DocumentInfo, ParsedDocument, Passage
from knowledge.text_normalizer import TextNormalizer

_ITEM_HEADING = re.compile(r"^(\d{1,2})\s*[、.．]?\s*(\D.{0,30})$")
_SENTENCE_END = re.compile(r"(?<=[。；;！？!?])")
_SECTION_MAX_LEN = 12
_SENTENCE_PUNCT = re.compile(r"[，。；;：:,！？!?“”]")


def _is_section_heading(line: str) -> bool:
    return (
        len(line) <= _SECTION_MAX_LEN
        and not _SENTENCE_PUNCT.search(line)
        and not line[0].isdigit()
    )


def split_sentences(text: str) -> list[str]:
    """Splits an item body into sentences at full stops and semicolons."""
    parts = (p.strip() for line in text.splitlines() for p in _SENTENCE_END.split(line))
    return [p for p in parts if len(p) > 1]


def format_citation(info: DocumentInfo, section: str, item_no: int | None) -> str:
    where = section if item_no is None else f"{section} 第{item_no}条"
    return f"《{info.title}》{where}"


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
        blocks: list[tuple[str, int | None, str, list[str]]] = []  # section, no, title, body
        sections: list[str] = []
        unplaced: list[str] = []
        lead: list[str] = []
        section: str | None = None
        next_item_no = 1  # numbering restarts in every section; "2019年…" is never an item
        for line in body:
            item = _ITEM_HEADING.match(line)
            if section is not None and item and int(item.group(1)) == next_item_no:
                blocks.append((section, next_item_no, item.group(2).strip(), []))
                next_item_no += 1
            elif _is_section_heading(line):
                section, next_item_no = line, 1
                sections.append(section)
            elif section is None:
                lead.append(line)
            elif blocks and blocks[-1][0] == section:
                blocks[-1][3].append(line)
            else:
                unplaced.append(line)

        clauses: list[Clause] = []
        passages: list[Passage] = []
        if lead:
            blocks.insert(0, (LEAD_SECTION, None, "", lead))
        for section_name, item_no, title, body_lines in blocks:
            key = section_name if item_no is None else f"{section_name}/{item_no}"
            citation = format_citation(info, section_name, item_no)
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
