"""Query side language handling: normalise, segment, find glossary phrases, expand.

Owners rarely use the policy's words ("限产" for 错峰生产, "电费" for 电价). The glossary
(knowledge/data/glossary.yml, edited by policy staff) maps such colloquial phrases to the
policy's terms; a query that contains one is expanded with the policy terms before retrieval.

Phrases are found with a spaCy PhraseMatcher over a blank Chinese pipeline whose tokenizer
is the project's own jieba instance (glossary terms and synonym keys are user words there),
so a phrase only matches on word boundaries: "用电" matches in "工业用电" but not inside
"使用电脑", which a plain substring search would get wrong. The substring matcher stays
available (`KB_GLOSSARY_MATCHER=substring`) because it needs no spaCy and was measured beside
it (docs/retrieval.md).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from knowledge.language.normalizer import TextNormalizer
from knowledge.language.tokenizer import ChineseTokenizer

log = logging.getLogger(__name__)

# Emoji, symbols and punctuation carry nothing to search for.
_HAS_WORD = re.compile(r"[\u3400-\u9fffa-zA-Z0-9]")


@dataclass(frozen=True)
class Glossary:
    """Policy terms and colloquial synonyms (key -> policy terms)."""

    terms: tuple[str, ...] = ()
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # places whose policy the knowledge base does not hold (a question naming one is declined)
    other_jurisdictions: frozenset[str] = frozenset()
    # matters the policy does not govern (a question built around one is declined)
    out_of_scope_topics: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path) -> Glossary:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        synonyms: dict[str, tuple[str, ...]] = {}
        for key, values in (data.get("synonyms") or {}).items():
            if isinstance(values, str):
                values = [values]
            cleaned = tuple(str(v).strip() for v in values or () if str(v).strip())
            if str(key).strip() and cleaned:
                synonyms[str(key).strip()] = cleaned
        terms = tuple(str(t).strip() for t in data.get("terms") or () if str(t).strip())
        def words(key: str) -> frozenset[str]:
            return frozenset(str(w).strip() for w in data.get(key) or () if str(w).strip())

        return cls(terms, synonyms, words("other_jurisdictions"), words("out_of_scope_topics"))

    @property
    def declines(self) -> frozenset[str]:
        return self.other_jurisdictions | self.out_of_scope_topics

    def expand(self, key: str, depth: int = 3) -> list[str]:
        """Policy terms for a key, following keys that point at other keys (手续 -> 环评)."""
        seen: dict[str, None] = {}
        frontier = [key]
        for _ in range(depth):
            nxt = []
            for k in frontier:
                for v in self.synonyms.get(k, ()):
                    if v not in seen and v != key:
                        seen[v] = None
                        nxt.append(v)
            frontier = nxt
        return list(seen)


class GlossaryMatcher(Protocol):
    name: str

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, key) character spans of glossary keys in `text`, non-overlapping."""
        ...


def _longest_non_overlapping(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    chosen: list[tuple[int, int, str]] = []
    for start, end, key in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, key))
    return sorted(chosen)


class SubstringGlossaryMatcher:
    """Longest-first substring search: no word boundaries."""

    name = "substring"

    def __init__(self, keys: Iterable[str]) -> None:
        ordered = sorted(set(keys), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        if self._pattern is None:
            return []
        return [(m.start(), m.end(), m.group(0)) for m in self._pattern.finditer(text)]


class SpacyGlossaryMatcher:
    """spaCy PhraseMatcher over the project's jieba segmentation (word-boundary aware)."""

    name = "spacy"

    def __init__(self, keys: Iterable[str], tokenizer: ChineseTokenizer) -> None:
        import spacy  # imported here: the substring matcher and the Rasa side need no spaCy
        from spacy.matcher import PhraseMatcher
        from spacy.tokens import Doc

        self._tokenizer = tokenizer
        self._nlp = spacy.blank("zh")
        vocab = self._nlp.vocab

        def jieba_tokenizer(text: str) -> Doc:
            words = tokenizer.cut(text) or [text]
            return Doc(vocab, words=words, spaces=[False] * len(words))

        self._nlp.tokenizer = jieba_tokenizer
        # Making a Doc adds new words to the shared vocab; one query at a time does that.
        self._lock = threading.Lock()
        self._matcher = PhraseMatcher(vocab, attr="LOWER")
        for key in set(keys):
            self._matcher.add(key, [self._nlp.make_doc(key)])

    def find(self, text: str) -> list[tuple[int, int, str]]:
        if not text:
            return []
        spans = []
        with self._lock:
            doc = self._nlp.make_doc(text)
            for match_id, start, end in self._matcher(doc):
                span = doc[start:end]
                spans.append((span.start_char, span.end_char, self._nlp.vocab.strings[match_id]))
        return _longest_non_overlapping(spans)


@dataclass(frozen=True)
class GlossaryHit:
    key: str
    start: int
    end: int
    expansions: tuple[str, ...]


@dataclass(frozen=True)
class QueryAnalysis:
    query: str
    normalized: str
    tokens: list[str]  # content tokens of the normalised query, in order, unique
    words: list[tuple[str, list[str]]]  # content words, each with its search-mode tokens
    glossary_hits: list[GlossaryHit]
    # token -> weight for the policy terms the glossary added (tokens not already in `tokens`)
    expansion: dict[str, float]
    # for every query token that lies inside a glossary phrase: the tokens of its policy terms
    covered_by: dict[str, frozenset[str]]
    problem: str = ""  # why there is nothing to search for: "empty query", "no content words"
    truncated: bool = False
    other_jurisdictions: tuple[str, ...] = ()  # places named that the documents do not cover
    out_of_scope_topics: tuple[str, ...] = ()  # matters named that the policy does not govern

    @property
    def weights(self) -> dict[str, float]:
        out = dict.fromkeys(self.tokens, 1.0)
        for tok, w in self.expansion.items():
            out[tok] = max(out.get(tok, 0.0), w)
        return out


class QueryAnalyzer:
    def __init__(
        self,
        normalizer: TextNormalizer,
        tokenizer: ChineseTokenizer,
        glossary: Glossary,
        matcher: str = "spacy",
        expansion_weight: float = 0.8,
        max_chars: int = 500,
    ) -> None:
        self.normalizer = normalizer
        self.tokenizer = tokenizer
        self.glossary = glossary
        self.expansion_weight = expansion_weight
        self.max_chars = max_chars
        keys = list(glossary.synonyms) + sorted(glossary.declines)
        self.matcher: GlossaryMatcher | None
        if matcher == "none" or not keys:
            self.matcher = None
        elif matcher == "substring":
            self.matcher = SubstringGlossaryMatcher(keys)
        else:
            try:
                self.matcher = SpacyGlossaryMatcher(keys, tokenizer)
            except ImportError:  # spaCy missing: same glossary, no word boundaries
                log.warning("spaCy is not installed; glossary matching falls back to substrings")
                self.matcher = SubstringGlossaryMatcher(keys)
        self._expansion_tokens: dict[str, list[str]] = {}

    @property
    def matcher_name(self) -> str:
        return self.matcher.name if self.matcher else "none"

    def _tokens_of(self, term: str) -> list[str]:
        toks = self._expansion_tokens.get(term)
        if toks is None:
            toks = list(dict.fromkeys(self.tokenizer.tokenize(self.normalizer.query_text(term))))
            self._expansion_tokens[term] = toks
        return toks

    def analyze(self, query: str) -> QueryAnalysis:
        if not isinstance(query, str):
            query = "" if query is None else str(query)
        # Normalisation keeps the length of Han text; reading a bounded prefix keeps a long
        # message from costing more than the part that is analysed.
        full = self.normalizer.query_text(query[: self.max_chars * 2])
        truncated = len(full) > self.max_chars or len(query) > self.max_chars * 2
        normalized = full[: self.max_chars]
        if not normalized:
            return QueryAnalysis(query, normalized, [], [], [], {}, {}, "empty query", truncated)
        if not _HAS_WORD.search(normalized):
            return QueryAnalysis(query, normalized, [], [], [], {}, {}, "no content words",
                                 truncated)
        words = self.tokenizer.words(normalized)
        tokens = list(dict.fromkeys(tok for _, toks in words for tok in toks))
        hits: list[GlossaryHit] = []
        expansion: dict[str, float] = {}
        covered_by: dict[str, set[str]] = {}
        places: list[str] = []
        topics: list[str] = []
        if self.matcher is not None:
            for start, end, key in self.matcher.find(normalized):
                if key in self.glossary.other_jurisdictions:
                    places.append(key)
                    continue
                if key in self.glossary.out_of_scope_topics:
                    topics.append(key)
                    continue
                terms = tuple(self.glossary.expand(key))
                hits.append(GlossaryHit(key, start, end, terms))
                term_tokens = {t for term in terms for t in self._tokens_of(term)}
                for tok in term_tokens:
                    if tok not in tokens:
                        expansion[tok] = max(expansion.get(tok, 0.0), self.expansion_weight)
                for tok in self._tokens_of(key):
                    covered_by.setdefault(tok, set()).update(term_tokens)
        problem = "" if tokens or expansion else "no content words"
        return QueryAnalysis(
            query, normalized, tokens, words, hits, expansion,
            {k: frozenset(v) for k, v in covered_by.items()}, problem, truncated, tuple(places),
            tuple(topics),
        )
