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
    r"《[^《》\n]{1,200}》(?:[^。！？；\n《]{0,60}?第\s*(?:\d+|[一二三四五六七八九十百千零〇两]+)\s*条"
    r"(?:（[^（）\n]{0,80}）)?)?"
)


_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CHINESE_DIGITS = "零一二三四五六七八九"



def chinese_number(text: str) -> int | None:
    """一 → 1, 十二 → 12, 一百零五 → 105, 一千二百四十二 → 1242; Arabic digits pass through."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch in _UNITS:
            total += (current or 1) * _UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def number_in_words(n: int) -> str:
    """1102 → 一千一百零二, 10 → 十, 52 → 五十二: how an article number is written in a law."""
    if n <= 0:
        raise ValueError(f"article numbers start at 1, got {n}")
    if n < 20 and n >= 10:
        return "十" + (_CHINESE_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            if zero and out:
                out += "零"
            out += _CHINESE_DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def article_label(n: int) -> str:
    """52 -> 第五十二条: how a law names its own article."""
    return f"第{number_in_words(n)}条"


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
