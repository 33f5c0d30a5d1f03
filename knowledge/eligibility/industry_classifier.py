"""Free-text industry -> the strategic emerging industry fields named in the opinion.

Owners describe their business in their own words ("做石墨烯导热膜的", "搞光伏组件"), never
as "新材料". The editable lexicon (`knowledge/data/industry_lexicon.yml`) maps such phrasings
to the fields; a character-similarity fallback catches typos and voice-input slips
("生物医要") that no lexicon lists. Several fields may match. When neither finds anything,
the industry is reported as unknown: guessing a strategic field would promise an owner
support the opinion may not give.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.eligibility.yaml_lines import (
    DataFileError,
    Problem,
    format_loc,
    line_of,
    load_yaml,
)
from knowledge.language.normalizer import TextNormalizer
from knowledge.paths import DATA_DIR

DEFAULT_LEXICON_PATH = DATA_DIR / "industry_lexicon.yml"
_ASCII_WORD = re.compile(r"^[0-9a-z][0-9a-z.+-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Similarity(_Strict):
    threshold: float = Field(gt=0, le=1)
    min_chars: int = Field(ge=2)


class _FieldModel(_Strict):
    name: str = Field(min_length=2)
    keywords: list[str] = Field(min_length=1)

    @field_validator("keywords")
    @classmethod
    def _no_blank_or_duplicate(cls, v: list[str]) -> list[str]:
        if any(not isinstance(k, str) or not k.strip() for k in v):
            raise ValueError("keywords must be non-empty text")
        dupes = sorted({k for k in v if v.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate keywords: {', '.join(dupes)}")
        return v


class _LexiconModel(_Strict):
    schema_version: int = Field(ge=1, le=1)
    doc_id: str
    clause: str
    similarity: _Similarity
    out_of_scope: list[str] = []
    fields: list[_FieldModel] = Field(min_length=1)


@dataclass(frozen=True)
class FieldMatch:
    """Why a field was matched: the lexicon keyword (or the similar one) and how."""

    field: str
    keyword: str
    via: str  # "lexicon" | "similarity"
    score: float

    def to_json(self) -> dict[str, object]:
        return {"field": self.field, "keyword": self.keyword, "via": self.via,
                "score": round(self.score, 3)}


@dataclass(frozen=True)
class IndustryClassification:
    text: str
    status: str  # "matched" | "unknown"
    fields: tuple[str, ...]
    matches: tuple[FieldMatch, ...]

    @property
    def unknown(self) -> bool:
        return self.status == "unknown"

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "status": self.status, "fields": list(self.fields),
                "matches": [m.to_json() for m in self.matches]}


@dataclass(frozen=True)
class Lexicon:
    path: Path
    doc_id: str
    clause: str
    threshold: float
    min_chars: int
    out_of_scope: tuple[str, ...]
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # (field name, keywords), opinion order

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)


def load_lexicon(path: Path = DEFAULT_LEXICON_PATH) -> Lexicon:
    """Loads and validates the lexicon; problems are reported with their line."""
    raw = load_yaml(path)
    try:
        m = _LexiconModel.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(path, [
            Problem(line_of(raw, e["loc"]), format_loc(e["loc"]), e["msg"]) for e in exc.errors()
        ]) from None
    names = [f.name for f in m.fields]
    dupes = [i for i, n in enumerate(names) if n in names[:i]]
    if dupes:
        raise DataFileError(path, [Problem(line_of(raw, ("fields", i)), f"fields[{i}]",
                                           f"field {names[i]!r} is listed twice") for i in dupes])
    return Lexicon(path, m.doc_id, m.clause, m.similarity.threshold, m.similarity.min_chars,
                   tuple(m.out_of_scope), tuple((f.name, tuple(f.keywords)) for f in m.fields))


@dataclass(frozen=True)
class _Keyword:
    field: str
    original: str
    text: str  # normalised
    pattern: re.Pattern[str] | None  # whole-word match for Latin keywords ("ai", "5g")


@dataclass(frozen=True)
class _Hit:
    keyword: _Keyword
    start: int
    end: int


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


class IndustryClassifier:
    """Lexicon match first; character similarity only when the lexicon finds nothing."""

    def __init__(self, lexicon: Lexicon, normalizer: TextNormalizer) -> None:
        self.lexicon = lexicon
        self.normalizer = normalizer
        self._keywords = [
            self._keyword(name, kw)
            for name, keywords in lexicon.fields
            for kw in (name, *keywords)  # the field's own name always counts
        ]
        self._out_of_scope = [self.normalizer.query_text(p) for p in lexicon.out_of_scope]
        self._by_bigram: dict[str, list[_Keyword]] = {}
        for kw in self._keywords:
            if len(kw.text) >= lexicon.min_chars:
                for bigram in _bigrams(kw.text):
                    self._by_bigram.setdefault(bigram, []).append(kw)

    @classmethod
    def from_files(cls, path: Path = DEFAULT_LEXICON_PATH,
                   normalizer: TextNormalizer | None = None) -> IndustryClassifier:
        return cls(load_lexicon(path), normalizer or TextNormalizer())

    def _keyword(self, field: str, original: str) -> _Keyword:
        text = self.normalizer.query_text(original)
        pattern = (re.compile(rf"(?<![0-9a-z]){re.escape(text)}(?![0-9a-z])")
                   if _ASCII_WORD.match(text) else None)
        return _Keyword(field, original, text, pattern)

    def classify(self, text: str) -> IndustryClassification:
        norm = self.normalizer.query_text(text)
        blocked = [(s, s + len(p)) for p in self._out_of_scope for s in _find_all(norm, p)]
        hits = self._lexicon_hits(norm, blocked)
        if hits:
            matches = [FieldMatch(h.keyword.field, h.keyword.original, "lexicon", 1.0)
                       for h in sorted(hits, key=lambda h: h.start - h.end)]
        else:
            # Out-of-scope phrases are masked, or "电动车维修" would come back as similar
            # to "电动汽车" after the lexicon rightly ignored it.
            masked = "".join("|" if any(s <= i < e for s, e in blocked) else ch
                             for i, ch in enumerate(norm))
            matches = self._similar(masked)
        return self._result(text, matches)

    def _result(self, text: str, matches: Iterable[FieldMatch]) -> IndustryClassification:
        best: dict[str, FieldMatch] = {}
        for m in matches:
            if m.field not in best or m.score > best[m.field].score:
                best[m.field] = m
        ordered = tuple(best[f] for f in self.lexicon.field_names if f in best)
        return IndustryClassification(text, "matched" if ordered else "unknown",
                                      tuple(m.field for m in ordered), ordered)

    def _lexicon_hits(self, norm: str, blocked: list[tuple[int, int]]) -> list[_Hit]:
        hits = []
        for kw in self._keywords:
            if kw.pattern is not None:
                hits += [_Hit(kw, m.start(), m.end()) for m in kw.pattern.finditer(norm)]
                continue
            start = norm.find(kw.text)
            while start >= 0:
                hits.append(_Hit(kw, start, start + len(kw.text)))
                start = norm.find(kw.text, start + 1)
        hits = [h for h in hits if not any(h.start < e and s < h.end for s, e in blocked)]
        # "新能源汽车" also contains "新能源": a hit inside a longer hit of another field is
        # part of that longer phrase, not a second industry.
        return [h for h in hits if not any(
            o.keyword.field != h.keyword.field and o.start <= h.start and h.end <= o.end
            and (o.end - o.start) > (h.end - h.start) for o in hits)]

    def _similar(self, norm: str) -> list[FieldMatch]:
        compact = norm.replace(" ", "")
        candidates = {id(kw): kw for b in _bigrams(compact) for kw in self._by_bigram.get(b, ())}
        matches = []
        for kw in candidates.values():
            score = _best_window_ratio(compact, kw.text)
            if score >= self.lexicon.threshold:
                matches.append(FieldMatch(kw.field, kw.original, "similarity", score))
        return matches


def _find_all(text: str, sub: str) -> Iterable[int]:
    start = text.find(sub) if sub else -1
    while start >= 0:
        yield start
        start = text.find(sub, start + 1)


def _best_window_ratio(text: str, keyword: str) -> float:
    """Best similarity of `keyword` to any window of about its length in `text`.

    Windows of the keyword's length allow a mistyped character, one longer an inserted one;
    a dropped character still scores through the longer window. No shorter windows: they
    would let a bare prefix ("汽车电" of "汽车电子") pass for the whole keyword.
    """
    best = 0.0
    n = len(keyword)
    for size in (n, n + 1):
        for start in range(max(1, len(text) - size + 1)):
            window = text[start:start + size]
            best = max(best, SequenceMatcher(None, window, keyword, autojunk=False).ratio())
    return best
