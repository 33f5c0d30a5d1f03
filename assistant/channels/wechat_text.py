"""Turns the assistant's replies into WeChat text messages.

- `render_bot_messages`: Rasa's collected bot messages -> one text in WeChat's markup (text
  messages show `<a href>` links; Markdown does not render, so its links and bold are converted;
  buttons become tappable menu links that send their title back).
- `split_for_wechat`: a text -> parts of at most `max_bytes` UTF-8 bytes (a passive reply or a
  customer-service text message holds 2048 bytes), cut at sentence or line ends, never inside a
  citation (《…》…第N条（…）), and a "——出自…" line always stays with the sentence it cites.
- `earlier_answer`: an answer that waited for the user's next message, under the question it
  answers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from assistant.channels.messages import MESSAGES
from knowledge.citations import CITATION_PATTERN

# A sentence ends after 。！？；!?; (and any closing quotes/brackets) or at a line break.
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]+|……)[”’」』）)】]*[ \t]*\n*|\n+")
# What must never be cut: a document title with its clause reference and item title, and a
# whole "——出自…" line.
_PROTECTED = re.compile(
    CITATION_PATTERN.pattern + r"|^——[^\n]*",
    re.MULTILINE,
)
_SOFT_BREAK = re.compile(r"[，、,：:]")
_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]{1,1000})\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__")

TOO_LONG_NOTE = MESSAGES.wechat_too_long
MAX_QUESTION_CHARS = 30  # of the question repeated above an answer that waited


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def to_wechat_markup(text: str) -> str:
    """Markdown links -> <a href>, bold markers dropped; everything else unchanged."""
    text = _MD_LINK.sub(
        lambda m: f'<a href="{html.escape(m.group(2), quote=True)}">{m.group(1)}</a>', text)
    return _MD_BOLD.sub(lambda m: m.group(1) or m.group(2), text)


def menu_link(title: str, menu_id: int) -> str:
    """A link that, tapped in WeChat, sends `title` back as the user's message."""
    safe = html.escape(title, quote=True)
    return f'<a href="weixin://bizmsgmenu?msgmenucontent={safe}&msgmenuid={menu_id}">{safe}</a>'


def render_bot_messages(messages: Iterable[Mapping[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        lines: list[str] = []
        text = str(message.get("text") or "").strip()
        if text:
            lines.append(to_wechat_markup(text))
        titles = [str(b.get("title") or "").strip() for b in message.get("buttons") or []
                  if isinstance(b, Mapping)]
        titles = [t for t in titles if t]
        lines.extend(f"· {menu_link(t, i)}" for i, t in enumerate(titles, 1))
        for key in ("image", "attachment"):
            if message.get(key):
                lines.append(str(message[key]))
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _units(text: str) -> list[str]:
    """Sentences (each with its trailing separator); never a cut inside a protected span."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]

    def inside(pos: int) -> bool:
        return any(start < pos < end for start, end in protected)

    units, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if inside(m.end()) or m.end() == 0:
            continue
        units.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        units.append(text[start:])
    return [u for u in units if u]


def _hard_split(unit: str, max_bytes: int) -> list[str]:
    """A sentence longer than a whole message: cut after commas, else between characters."""
    pieces: list[str] = []
    rest = unit
    while nbytes(rest) > max_bytes:
        cut = 0
        for i in range(1, len(rest) + 1):
            if nbytes(rest[:i]) > max_bytes:
                break
            cut = i
        soft = [m.end() for m in _SOFT_BREAK.finditer(rest, 0, cut)]
        if soft and soft[-1] > cut // 2:
            cut = soft[-1]
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def _is_citation_line(unit: str) -> bool:
    return unit.lstrip().startswith("——")


def split_for_wechat(text: str, max_bytes: int = 2000, max_parts: int = 5) -> list[str]:
    """Parts of at most `max_bytes` bytes that read as the original text, in order."""
    text = re.sub(r"\n{3,}", "\n\n", (text or "").strip())
    if not text:
        return []
    if nbytes(text) <= max_bytes:
        return [text]
    units: list[str] = []
    for unit in _units(text):
        units.extend(_hard_split(unit, max_bytes) if nbytes(unit) > max_bytes else [unit])

    chunks: list[list[str]] = []
    current: list[str] = []
    for unit in units:
        if not current or nbytes("".join([*current, unit]).strip()) <= max_bytes:
            current.append(unit)
            continue
        if (_is_citation_line(unit) and len(current) > 1
                and nbytes((current[-1] + unit).strip()) <= max_bytes):
            carried = current.pop()  # the sentence this line cites goes with it
            chunks.append(current)
            current = [carried, unit]
            continue
        chunks.append(current)
        current = [unit]
    if current:
        chunks.append(current)

    if len(chunks) > max_parts:  # keep whole sentences of the last part, then say it was cut
        last = chunks[max_parts - 1]
        budget = max_bytes - nbytes(TOO_LONG_NOTE)
        while len(last) > 1 and nbytes("".join(last).strip()) > budget:
            last.pop()
        tail = "".join(last).strip()
        while nbytes(tail) > budget:
            tail = tail[:-1]
        chunks = [*chunks[: max_parts - 1], [tail + TOO_LONG_NOTE]]
    return [p for p in ("".join(c).strip() for c in chunks) if p]


def earlier_answer(question: str, answer: str) -> str:
    """An answer given later than its question, introduced by the question (shortened)."""
    question = " ".join((question or "").split())
    if len(question) > MAX_QUESTION_CHARS:
        question = question[:MAX_QUESTION_CHARS] + "…"
    return MESSAGES.wechat_earlier_answer.format(question=question, answer=answer.strip())
