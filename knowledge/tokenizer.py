"""Chinese segmentation shared by indexing and querying, so both sides split text alike."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import jieba
import yaml

DATA_DIR = Path(__file__).parent / "data"
# jieba logs its dictionary loading at DEBUG to stderr on every start; that is noise.
logging.getLogger("jieba").setLevel(logging.WARNING)
_CONTENT = re.compile(r"[\u3400-\u9fffa-z0-9]")


def load_glossary_terms(path: Path = DATA_DIR / "glossary.yml") -> list[str]:
    """Words the segmenter keeps whole: the glossary terms and the colloquial synonym keys."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms = [str(t) for t in data.get("terms") or []]
    terms += [str(k) for k in (data.get("synonyms") or {})]
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

    def tokenize(self, text: str) -> list[str]:
        return [
            tok
            for tok in (t.strip().lower() for t in self._jieba.cut_for_search(text))
            if tok and tok not in self.stopwords and _CONTENT.search(tok)
        ]
