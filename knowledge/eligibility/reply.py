"""Turns an assessment (the JSON of `bin/kb assess`) into short chat text parts.

A phone screen holds a few lines: the category sentence, then measures grouped by the clause
that grants them, obligations and next steps, each with a short citation. The full clause
texts are for "详细说说". Labels around these parts live in the Rasa domain; this module
only arranges the engine's own (data-file) wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from knowledge.citations import clause_reference

MAX_NEXT_STEPS = 2


def short_citation(citation: str) -> str:
    """'《…意见》工作任务 第1条' -> '工作任务 第1条' (the document is named once, elsewhere)."""
    return clause_reference(citation)


def _by_clause(items: Iterable[Mapping[str, Any]], key: str) -> str:
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(short_citation(item["citation"]), []).append(str(item[key]))
    return "；".join(f"{'、'.join(dict.fromkeys(names))}（{where}）"
                    for where, names in groups.items())


def _cited(items: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(f"· {i['text']}（{short_citation(i['citation'])}）" for i in items)


def summary_parts(assessment: Mapping[str, Any]) -> dict[str, str]:
    """Values for the domain's utter_assessment_* responses."""
    deciding = [r for r in assessment["reasons"] if r.get("effect") == "decides"]
    basis = "、".join(dict.fromkeys(short_citation(r["citation"]) for r in deciding))
    empty = assessment.get("when_empty") or {}
    return {
        "summary": assessment.get("summary") or "",
        "basis": basis or "—",
        "measures": _by_clause(assessment["measures"], "name") or empty.get("measures", ""),
        "obligations": _cited(assessment["obligations"]) or empty.get("obligations", ""),
        "next_steps": (_cited(assessment["next_steps"][:MAX_NEXT_STEPS])
                       or empty.get("next_steps", "")),
        # "" or one line per reported violation: what the law in force provides for it
        "consequences": "".join(f"\n· {c['violation']}：{c['text']}（{c['short_citation']}）"
                                for c in assessment.get("legal_consequences") or ()),
        "disclaimer": assessment.get("disclaimer") or "",
        "document": (assessment.get("document") or {}).get("title", ""),
    }


# Reasons that do not hold for this enterprise: a category that lost the conflict order, or one
# that still waits for a fact the owner has not confirmed (never shown as if it applied).
_NOT_APPLYING = frozenset({"overridden", "pending"})


def applying_reasons(assessment: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The reasons that hold for this enterprise, in the assessment's order."""
    return [r for r in assessment["reasons"] if r.get("effect") not in _NOT_APPLYING]


def detail_parts(assessment: Mapping[str, Any]) -> list[str]:
    """One message per clause relied on: why, and the clause text itself. Empty when nothing
    is decided yet (every reason still waits for a fact)."""
    parts = []
    for reason in applying_reasons(assessment):
        parts.append(f"{reason['reason']}\n依据{reason['citation']}：\n{reason['clause_text']}")
    return parts


def missing_facts(assessment: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    return "、".join(labels.get(f, f) for f in assessment.get("missing") or [])
