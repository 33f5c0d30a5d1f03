"""One normal form for policy documents and for what users type.

Documents arrive as scraped web pages (Traditional characters, pinyin annotations after
characters) and users type on phones (Traditional, full-width letters, stray spaces). Retrieval
and intent classification only work if both sides are brought to the same Simplified,
half-width form; this module is that single place. It is imported by both runtimes, so it
depends only on OpenCC and PyYAML.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import opencc
import yaml

from knowledge.paths import DATA_DIR

DEFAULT_RULES_PATH = DATA_DIR / "normalization.yml"

# A pinyin annotation is a run of Latin letters (with tone marks) in parentheses right after
# a Han character: 部門(mén). Real parentheses hold Han text, e.g. 国家(省、市)重点项目.
_PINYIN_ANNOTATION = re.compile(
    r"(?<=[\u3400-\u9fff])[(（]\s*[a-zA-Z\u00c0-\u024f\u0300-\u036f]{1,8}\s*[)）]"
)
_WHITESPACE = re.compile(r"\s+")
# Spaces between two Han characters come from voice input or copy-paste, never meaning.
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
# Half-width punctuation between Han characters, as scraped pages often have it.
_HALF_WIDTH_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_HAN_PUNCT_HAN = re.compile(r"(?<=[\u3400-\u9fff”）)])([,;:?!])(?=[\u3400-\u9fff“（])")


@dataclass(frozen=True)
class NormalizationRules:
    """Editable corrections: OpenCC leftovers and boilerplate line patterns."""

    t2s_fixes: dict[str, str] = field(default_factory=dict)
    boilerplate_lines: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES_PATH) -> NormalizationRules:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            t2s_fixes=dict(data.get("t2s_fixes") or {}),
            boilerplate_lines=tuple(data.get("boilerplate_lines") or ()),
        )


class TextNormalizer:
    """Converts document text and user queries to Simplified, annotation-free text."""

    def __init__(self, rules: NormalizationRules | None = None) -> None:
        self.rules = rules or NormalizationRules.load()
        self._converter = opencc.OpenCC("t2s")
        # Longest keys first so that 紧接著 wins over 接著.
        fixes = sorted(self.rules.t2s_fixes, key=len, reverse=True)
        self._fix_pattern = re.compile("|".join(map(re.escape, fixes))) if fixes else None
        self._boilerplate = [re.compile(p) for p in self.rules.boilerplate_lines]

    def strip_pinyin(self, text: str) -> str:
        return _PINYIN_ANNOTATION.sub("", text)

    def to_simplified(self, text: str) -> str:
        converted = self._converter.convert(text)
        if self._fix_pattern is None:
            return converted
        return self._fix_pattern.sub(lambda m: self.rules.t2s_fixes[m.group(0)], converted)

    def is_boilerplate(self, line: str) -> bool:
        return any(p.search(line) for p in self._boilerplate)

    def document_text(self, text: str) -> str:
        """Normal form for stored passages: keeps Chinese punctuation for display."""
        text = self.to_simplified(self.strip_pinyin(text))
        text = _HAN_PUNCT_HAN.sub(lambda m: _HALF_WIDTH_PUNCT[m.group(1)], text)
        return text.strip()

    def query_text(self, text: str) -> str:
        """Normal form for matching: half-width, Simplified, lower-case, single spaces."""
        text = unicodedata.normalize("NFKC", text or "")
        text = self.to_simplified(self.strip_pinyin(text))
        text = _SPACE_BETWEEN_HAN.sub("", text)
        return _WHITESPACE.sub(" ", text).strip().lower()
