"""How a citation is written and read back: 《document title》where, e.g.
《…意见》工作任务 第2条 or 《…意见》工作任务 第2条（2019年版）.

One place for both directions, so that the clause parser, the eligibility replies, the CLI
and the WeChat channel (which must never cut a citation in two) agree. Standard library only:
the WeChat channel runs in the Rasa runtime.
"""

from __future__ import annotations

import re

TITLE_OPEN, TITLE_CLOSE = "《", "》"

# A citation as it appears in running text: the title, then optionally where in the document
# (…第N条, with an item title or version in full-width brackets).
CITATION_PATTERN = re.compile(
    r"《[^《》\n]{1,200}》(?:[^。！？；\n《]{0,60}?第\s*\d+\s*条(?:（[^（）\n]{0,80}）)?)?"
)


def format_citation(title: str, where: str) -> str:
    """《title》where; `where` is the section and item ("工作任务 第2条") or empty."""
    return f"{TITLE_OPEN}{title}{TITLE_CLOSE}{where}"


def clause_reference(citation: str) -> str:
    """The part after the document title ('工作任务 第1条'), for lists that name the document
    once elsewhere; a text without a title is returned as it is."""
    depth = 0
    for i, ch in enumerate(citation):
        if ch == TITLE_OPEN:
            depth += 1
        elif ch == TITLE_CLOSE and depth:
            depth -= 1
            if depth == 0:
                return citation[i + 1:].strip() or citation
    return citation
