"""Turns the Markdown that public law collections publish into plain lines of legal text.

The related rules come from three collections, each with its own dress (see
knowledge/sources/related/SOURCES.md):

* LawRefBook: ``#`` headings, history lines, an ``<!-- INFO END -->`` marker;
* a VuePress site: YAML front matter, ``::: tip`` / ``::: details`` containers with a table
  of contents of links, ``<p id="t1">`` paragraphs with ``<b>第一条</b>``, ``<br>`` between
  paragraphs, ``&emsp;`` for indentation and ``{align="center"}`` attributes on headings;
* another VuePress site: front matter, ``**第一条**`` in bold, full-width spaces.

Everything here is markup removal only: the words of the law pass through unchanged, one
paragraph (款 or 项) a line, so that the legal parser sees the text the gazette printed.
"""

from __future__ import annotations

import html
import re

_FRONT_MATTER = re.compile(r"\A\ufeff?---\n.*?\n---\n", re.S)
_FRONT_TITLE = re.compile(r"^title:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK = re.compile(r"<br\s*/?>|</p\s*>|<p(?:\s[^>]*)?>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>")
_ATTRIBUTES = re.compile(r"\{[a-z]+=\"[^\"]*\"\}\s*$")  # {align="center"}
_HEADING = re.compile(r"^#{1,6}\s+")
_CONTAINER = re.compile(r"^(:::|@tab\b)")  # ::: tip / ::: details 目录 / ::: / @tab 章节
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_ONLY_LINKS = re.compile(r"^[-*\s]*(\[[^\]\n]*\]\([^)\n]*\)[\s、，,]*)+$")
_TOC_LABEL = re.compile(r"^[-*]\s*第[\d~～\-]+条[：:]?\s*$")  # "- 第1~20条："
_RULE = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
_EMPHASIS = re.compile(r"\*\*|__")
_SPACES = re.compile(r"[ \t\u3000\xa0\u2003\u2002]+")


def looks_like_markdown(text: str) -> bool:
    """Whether the text carries the markup of a law collection (headings, containers, tags)."""
    head = text[:20_000]
    return bool(re.search(r"^(#{1,6} |:::|---\n)|<p[ >]|<br>|\*\*第", head, re.M))


def markdown_to_lines(text: str) -> list[str]:
    """Plain lines: markup removed, entities decoded, runs of spaces made one space.

    A table of contents (lines of links), container fences and horizontal rules are dropped;
    headings keep their words ("## 第一章 总则" -> "第一章 总则").
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front = _FRONT_MATTER.match(text)
    title = _FRONT_TITLE.search(front.group(0)) if front else None
    text = _FRONT_MATTER.sub("", text, count=1)
    text = _COMMENT.sub("\n", text)
    text = _BREAK.sub("\n", text)
    lines = []
    for raw in text.split("\n"):
        line = raw.strip()
        if (not line or _CONTAINER.match(line) or _RULE.match(line) or _ONLY_LINKS.match(line)
                or _TOC_LABEL.match(line) or line == "[[toc]]"):
            continue
        line = _HEADING.sub("", line)
        line = _ATTRIBUTES.sub("", line)
        line = _TAG.sub("", line)
        line = html.unescape(line)
        line = _LINK.sub(r"\1", line)
        line = _EMPHASIS.sub("", line)
        line = _SPACES.sub(" ", line).strip()
        if line:
            lines.append(line)
    if title and (not lines or lines[0] != title.group(1).strip()):
        lines.insert(0, title.group(1).strip())  # the front matter's title heads the text
    return lines
