"""Splits a message that asks several things at once into separate questions.

Owners often send "预警提前几天？审批能走绿色通道吗？" in one message; answering only the
best-matching half looks like the assistant ignored the rest.
"""

from __future__ import annotations

import re

MAX_QUESTIONS = 3
_MIN_CONTENT_CHARS = 4
# Question marks, full stops, semicolons and line breaks end a question; commas do not
# (一个问题里常有逗号).
_BOUNDARY = re.compile(r"(?<=[？?。；;！!])|\n+")
_HAN = re.compile(r"[\u3400-\u9fff]")


_QUESTION_MARKERS = re.compile(
    r"[？?]|吗|么|怎|什么|哪|几|多少|能不能|会不会|是不是|是否|有没有|可不可以"
    # any A-not-A question: 算不算, 属不属于, 要不要, 有没有
    r"|([\u4e00-\u9fff])[不没]\1"
    # a yes/no question ending in 不 / 没: 这个算战略性新兴产业不, 手续办了没
    r"|[不没][啊呀呢]?\s*$"
)


def is_question(text: str) -> bool:
    """Whether a message asks something, as opposed to stating a fact ("生产水泥的")."""
    return bool(_QUESTION_MARKERS.search(text or ""))


def split_questions(text: str) -> list[str]:
    """Returns the questions in order; a single question comes back as a one-item list."""
    parts = [p.strip(" ，,、") for p in _BOUNDARY.split(text or "")]
    questions = [p for p in parts if p and len(_HAN.findall(p)) >= _MIN_CONTENT_CHARS]
    if len(questions) <= 1:
        return [text.strip()] if text and text.strip() else []
    return questions[:MAX_QUESTIONS]
