"""Splits a message that asks several things at once into separate questions.

Owners often send "预警提前几天？审批能走绿色通道吗？" in one message, but just as often join
the questions with a comma, "还有" / "另外", a space, a numbered list or nothing at all
("…能优先保障吗还有治污技术上有没有人帮"); answering only the best-matching half looks like the
assistant ignored the rest.

Two kinds of boundary:
* hard ones (？。；！ and line breaks) always end a part; a part that states a fact rather
  than asking ("我们是小厂。") is context and stays with the question next to it;
* soft ones (commas, spaces, connectors such as 还有 / 另外 / 再问一下, and a question
  particle 吗 followed by more text) split only where both sides are complete questions, so
  that "我们厂是做家具的，能不能走绿色通道" stays one question with its context.
"""

from __future__ import annotations

import re

MAX_QUESTIONS = 3
_MIN_CONTENT_CHARS = 4
# Question marks, full stops, semicolons and line breaks end a question.
_BOUNDARY = re.compile(r"(?<=[？?。；;！!])|\n+")
_HAN = re.compile(r"[\u3400-\u9fff]")
# "1." "2、" "（3）" "①" "一、" "第二，" at the start of a line of a list.
_LIST_MARKER = re.compile(
    r"^\s*(?:[(（]?\s*(?:\d{1,2}|[一二三四五六七八九十])\s*[)）]|第?[一二三四五六七八九十]\s*[、，,.．:：]"
    r"|\d{1,2}\s*[.．、:：)）](?!\d)|[①②③④⑤⑥⑦⑧⑨⑩])\s*")
# Words that join two questions ("A吗还有B", "A，另外B"); the longest first.
_CONNECTORS = ("再问一下", "再问下", "还想问", "顺便问一下", "顺便问下", "另外", "此外", "以及",
               "还有")
_SOFT = re.compile(
    r"[，,、]+"  # a comma
    r"|(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])"  # a space between two words
    r"|(?=" + "|".join(_CONNECTORS) + r")"  # before a connector
    r"|(?<=[吗呢])(?=[\u3400-\u9fff])"  # after a question particle, run on
)
_CONNECTOR_PREFIX = re.compile(r"^(?:" + "|".join(_CONNECTORS) + r")[，,、\s]*")


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


def _content(text: str) -> int:
    return len(_HAN.findall(text))


def _clean(part: str) -> str:
    return _LIST_MARKER.sub("", part).strip(" \t，,、")


# Words that look like question words but state a fact: 好几天 (several days), 几乎.
_NOT_ASKING = re.compile(r"好几|几乎|没几")


def _complete(text: str) -> bool:
    """A question that stands on its own: long enough, and asking something ("设备坏了好几天
    没修" states a fact; it is the context of the question that follows)."""
    return _content(text) >= _MIN_CONTENT_CHARS and is_question(_NOT_ASKING.sub("", text))


def _right_side(rest: str) -> str:
    """What follows a soft boundary, without the connector that joined it ("还有偷排…" ->
    "偷排…"), unless the connector is part of the question ("还有没有补贴")."""
    rest = rest.strip(" \t，,、")
    stripped = _CONNECTOR_PREFIX.sub("", rest)
    return stripped if _complete(stripped) or not _complete(rest) else rest


def _split_soft(part: str) -> list[str]:
    """Cuts a part at soft boundaries where the text before (since the last cut) and the text
    after are both complete questions."""
    questions: list[str] = []
    start = 0
    for match in _SOFT.finditer(part):
        if match.start() <= start:
            continue
        left = part[start:match.start()].strip(" \t，,、")
        right = _right_side(part[match.end():])
        if _complete(_CONNECTOR_PREFIX.sub("", left) or left) and _complete(right):
            questions.append(left)
            start = match.end()
    questions.append(part[start:].strip(" \t，,、"))
    return [_right_side(q) for q in questions if q]


def _attach_statements(parts: list[str]) -> list[str]:
    """A part that asks nothing ("我们是小厂。") is context for the question after it (or,
    at the end, before it); a list where no part asks anything is kept as it is."""
    if not any(is_question(p) for p in parts):
        return parts
    merged: list[str] = []
    pending = ""
    for part in parts:
        if is_question(part):
            merged.append(pending + part)
            pending = ""
        else:
            pending += part
    if pending:
        merged[-1] += pending
    return merged


def split_questions(text: str) -> list[str]:
    """Returns the questions in order; a single question comes back as a one-item list (the
    message as typed)."""
    parts = [_clean(p) for p in _BOUNDARY.split(text or "")]
    parts = [p for p in parts if p and _content(p) >= _MIN_CONTENT_CHARS]
    questions = [q for part in _attach_statements(parts) for q in _split_soft(part)]
    if len(questions) <= 1:
        return [text.strip()] if text and text.strip() else []
    return questions[:MAX_QUESTIONS]
