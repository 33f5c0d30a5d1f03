"""What an assessment says, in the shape the CLI prints and the Rasa action renders.

Every statement carries the citation of the clause it rests on, and every rule that fired
carries the clause text itself, so an owner (or helpdesk staff) can check the reasoning
against the policy and the competent authority can see why the assistant said what it said.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge.eligibility.industry_classifier import IndustryClassification
from knowledge.eligibility.violations import ReportedViolation


@dataclass(frozen=True)
class CitedItem:
    """A measure, obligation or next step with its clause citation."""

    id: str
    text: str
    clause_key: str
    citation: str
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "text": self.text, "clause_key": self.clause_key,
                "citation": self.citation}
        if self.name:
            data["name"] = self.name
        return data


@dataclass(frozen=True)
class Reason:
    """A rule that fired, what it did, and the clause (quoted) it rests on.

    effect: "decides" (set the category), "overridden" (its category lost the conflict
    order to `overridden_by`), "pending" (its category waits for missing facts), "adds"
    (a rule without category that added items), "withholds" (it also removed measures).
    """

    rule: str
    effect: str
    category: str | None
    reason: str
    doc_id: str
    version: str
    clause_key: str
    citation: str
    clause_text: str
    overridden_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "rule": self.rule, "effect": self.effect, "category": self.category,
            "reason": self.reason, "doc_id": self.doc_id, "version": self.version,
            "clause_key": self.clause_key, "citation": self.citation,
            "clause_text": self.clause_text,
        }
        if self.overridden_by:
            data["overridden_by"] = self.overridden_by
        return data


@dataclass(frozen=True)
class LegalConsequence:
    """A reported violation and the article in force that sanctions it."""

    violation: str  # the violation type's label (无证排污)
    doc_id: str
    article: int
    citation: str  # 《中华人民共和国生态环境法典》第一千一百零二条
    short_citation: str  # 《生态环境法典》第一千一百零二条
    text: str  # the article's first provision, up to the first 。 or ；

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Assessment:
    category: str | None  # None while `missing` facts could still change the answer
    category_label: str | None
    # Labels of higher categories that could still apply once `missing` facts are known (given
    # with a decided category only when all of them are favourable).
    open_categories: tuple[str, ...]
    summary: str | None
    missing: tuple[str, ...]  # profile fields, in the order the profile declares them
    fields: tuple[str, ...]  # strategic industry fields, named exactly as in the opinion
    industry: IndustryClassification | None
    violations: tuple[ReportedViolation, ...]
    measures: tuple[CitedItem, ...]
    obligations: tuple[CitedItem, ...]
    next_steps: tuple[CitedItem, ...]
    reasons: tuple[Reason, ...]
    document: dict[str, str]
    disclaimer: str
    when_empty: dict[str, str] = field(default_factory=dict)  # the rules file's placeholders
    # What the law in force provides for a reported violation (the fine range), when loaded.
    legal_consequences: tuple[LegalConsequence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_label": self.category_label,
            "open_categories": list(self.open_categories),
            "summary": self.summary,
            "missing": list(self.missing),
            "fields": list(self.fields),
            "industry": self.industry.to_json() if self.industry else None,
            "violations": [v.to_json() for v in self.violations],
            "measures": [m.to_json() for m in self.measures],
            "obligations": [o.to_json() for o in self.obligations],
            "next_steps": [s.to_json() for s in self.next_steps],
            "reasons": [r.to_json() for r in self.reasons],
            "document": dict(self.document),
            "disclaimer": self.disclaimer,
            "when_empty": dict(self.when_empty),
            "legal_consequences": [c.to_json() for c in self.legal_consequences],
        }
