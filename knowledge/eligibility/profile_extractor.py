"""Reads enterprise facts out of what an owner types, for the profile form.

"我们是做石墨烯材料的小企业，手续齐全，排放稳定达标" states four facts at once; the form should
not ask for them again. Phrases live in knowledge/data/profile_phrases.yml so that staff can
add how owners really talk without touching code. A short "是/不是/不清楚" answers the
question just asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.eligibility.industry_classifier import IndustryClassification

UNKNOWN = "unknown"  # the owner does not know; the form stops asking, the engine sees None
BOOLEAN_FIELDS = (
    "procedures_complete",
    "meets_emission_standards",
    "heavy_pollution",
    "conforms_industrial_policy",
    "environmental_leader",
)
_PUNCT = re.compile(r"[\s，。！？,.!?、；;：:~～…]+")


@dataclass(frozen=True)
class _FieldPhrases:
    field: str
    options: tuple[tuple[Any, tuple[str, ...]], ...]  # (value, phrases) in priority order


class ProfileExtractor:
    def __init__(
        self,
        fields: list[_FieldPhrases],
        answers: dict[str, tuple[str, ...]],
        labels: dict[str, str] | None = None,
    ) -> None:
        self._fields = fields
        self._answers = answers
        self.labels = labels or {}  # how the assistant names each fact to the owner

    @classmethod
    def load(cls, path: Path) -> ProfileExtractor:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        fields = [
            _FieldPhrases(name, tuple((o["value"], tuple(map(str, o["phrases"])))
                                      for o in options))
            for name, options in (data.get("fields") or {}).items()
        ]
        answers = {k: tuple(map(str, v)) for k, v in (data.get("answers") or {}).items()}
        return cls(fields, answers, {k: str(v) for k, v in (data.get("labels") or {}).items()})

    def short_answer(self, text: str) -> str | None:
        """'yes', 'no' or 'unknown' when the whole message is a short answer, else None."""
        bare = _PUNCT.sub("", text.lower())
        for kind in ("unknown", "no", "yes"):  # 不清楚 before 不, 不是 before 是
            if bare in self._answers.get(kind, ()):
                return kind
        return None

    def stated_facts(self, text: str) -> dict[str, Any]:
        """Facts stated anywhere in the message, by phrase."""
        lowered = text.lower()
        facts: dict[str, Any] = {}
        for spec in self._fields:
            for value, phrases in spec.options:
                if any(p in lowered for p in phrases):
                    facts[spec.field] = value
                    break
        return facts

    def extract(
        self,
        text: str,
        requested: str | None,
        industry: IndustryClassification | None = None,
    ) -> dict[str, Any]:
        """Every fact the message gives; `requested` is the field the assistant just asked.

        `industry` is the classifier's reading of the message: the message counts as an
        industry description when it names a known field, or when the industry was asked.
        """
        facts = self.stated_facts(text)
        answer = self.short_answer(text)
        if requested in BOOLEAN_FIELDS and requested not in facts and answer:
            facts[requested] = {"yes": True, "no": False}.get(answer, UNKNOWN)
        if requested == "key_project" and "key_project" not in facts and answer in ("no",
                                                                                    "unknown"):
            facts["key_project"] = "none" if answer == "no" else UNKNOWN
        if requested == "industry" and answer == "unknown":
            facts["industry"] = UNKNOWN
        elif industry is not None and answer is None and (
            not industry.unknown or (requested == "industry" and not facts)
        ):
            facts["industry"] = text.strip()
        return facts
