"""Reported violations (free text) -> the violation types the opinion names (保障措施/1).

The types and their colloquial keywords live in the rules file. A report that matches no
type still counts as a violation ("other"): the enforcement clause covers "等违法违规行为",
and under-reporting a violation would be the worse mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.eligibility.rules import RuleSet
from knowledge.language.normalizer import TextNormalizer

_PUNCT = re.compile(r"[\s,.;:!?，。；：！？、“”\"'()（）]+")


@dataclass(frozen=True)
class ReportedViolation:
    text: str
    type: str
    label: str

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "type": self.type, "label": self.label}


def classify_violations(texts: Iterable[str], rules: RuleSet,
                        normalizer: TextNormalizer) -> list[ReportedViolation]:
    """One entry per (report, type); reports that only say "none" are dropped."""
    none_words = {_PUNCT.sub("", normalizer.query_text(w)) for w in rules.none_words}
    found: list[ReportedViolation] = []
    for text in texts:
        norm = _PUNCT.sub("", normalizer.query_text(text))
        if not norm or norm in none_words:
            continue
        types = [v for v in rules.violation_types
                 if any(normalizer.query_text(k) in norm for k in v.keywords)]
        for v in types or [rules.other_violation]:
            found.append(ReportedViolation(text, v.id, v.label))
    return found
