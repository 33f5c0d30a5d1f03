"""Chinese segmentation shared by indexing and querying, so both sides split text alike."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import jieba
import yaml

from knowledge.paths import DATA_DIR

# jieba logs its dictionary loading at DEBUG to stderr on every start; that is noise.
logging.getLogger("jieba").setLevel(logging.WARNING)
_CONTENT = re.compile(r"[\u3400-\u9fffa-z0-9]")


def load_glossary_terms(path: Path = DATA_DIR / "glossary.yml") -> list[str]:
    """Words the segmenter keeps whole: glossary terms, synonym keys, declined places/topics."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms = [str(t) for t in data.get("terms") or []]
    terms += [str(k) for k in (data.get("synonyms") or {})]
    terms += [str(p) for p in data.get("other_jurisdictions") or []]
    terms += [str(p) for p in data.get("out_of_scope_topics") or []]
    return list(dict.fromkeys(t.strip() for t in terms if str(t).strip()))


def load_stopwords(path: Path = DATA_DIR / "stopwords.txt") -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


class ChineseTokenizer:
    """jieba in search mode with the policy glossary as user words, minus stopwords.

    Search mode emits both 差别化管控 and its parts (差别, 管控), so a colloquial query that
    uses only part of a policy term still overlaps with the text. Each instance owns its
    own jieba dictionary: no process-wide state is touched.
    """

    def __init__(self, terms: Iterable[str] = (), stopwords: frozenset[str] = frozenset()) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        # Multi-character stopwords become words first so that they are cut out whole
        # ("检查时会不会" -> 检查/时/会不会, not 检查/时会/不会); glossary terms come after
        # and win where the two overlap.
        for word in sorted(w for w in stopwords if len(w) > 1):
            self._jieba.add_word(word, freq=20000)
        for term in terms:
            self._jieba.add_word(term, freq=20000)
        self.stopwords = stopwords

    @classmethod
    def from_data(cls, data_dir: Path = DATA_DIR) -> ChineseTokenizer:
        return cls(load_glossary_terms(data_dir / "glossary.yml"),
                   load_stopwords(data_dir / "stopwords.txt"))

    def cut(self, text: str) -> list[str]:
        """Precise-mode segmentation (every character in exactly one word), for the matcher."""
        return [w for w in self._jieba.cut(text) if w]

    def words(self, text: str) -> list[tuple[str, list[str]]]:
        """Content words (precise mode, minus stopwords), each with its search-mode tokens.

        Search mode adds a long word's dictionary 2- and 3-grams (差别化管控 -> 差别, 管控, ...),
        so a colloquial query that uses only part of a policy term still overlaps with the
        text. Stopwords are dropped as whole words first, so that 会不会 / 有没有 do not leak
        their parts (不会, 没有) into the index or the query.
        """
        freq = self._jieba.FREQ
        out = []
        for raw in self._jieba.cut(text):
            word = raw.strip()
            low = word.lower()
            if not low or low in self.stopwords or not _CONTENT.search(low):
                continue
            grams = []
            if len(word) > 2:
                grams += [word[i:i + 2] for i in range(len(word) - 1) if freq.get(word[i:i + 2])]
            if len(word) > 3:
                grams += [word[i:i + 3] for i in range(len(word) - 2) if freq.get(word[i:i + 3])]
            tokens = [g.lower() for g in grams if g.lower() not in self.stopwords]
            tokens.append(low)
            out.append((low, tokens))
        return out

    def tokenize(self, text: str) -> list[str]:
        """Search-mode tokens of the content words, in order (repeats kept, for BM25 counts)."""
        return [tok for _, tokens in self.words(text) for tok in tokens]
