"""Rendering of assessments for chat, on real engine output."""

from __future__ import annotations

import pytest

from knowledge.eligibility import EligibilityEngine
from knowledge.eligibility.reply import (
    detail_parts,
    missing_facts,
    short_citation,
    summary_parts,
)


@pytest.fixture(scope="module")
def engine(built_kb) -> EligibilityEngine:
    return built_kb.eligibility_engine()


PRIORITY = {"industry": "石墨烯导热膜", "procedures_complete": True,
            "meets_emission_standards": True, "heavy_pollution": False,
            "conforms_industrial_policy": True}


def test_short_citation_drops_the_document_title() -> None:
    assert short_citation("《某意见》工作任务 第1条") == "工作任务 第1条"


def test_summary_groups_measures_by_clause(engine: EligibilityEngine) -> None:
    parts = summary_parts(engine.assess(PRIORITY).to_json())
    assert "优先" in parts["summary"]
    assert "工作原则 第1条" in parts["basis"]
    assert "绿色通道" in parts["measures"] and "（工作任务 第1条）" in parts["measures"]
    # one citation per clause, however many measures it grants
    assert parts["measures"].count("工作任务 第1条") == 1
    assert "主管部门" in parts["disclaimer"]


def test_detail_quotes_the_clause_text_of_every_applied_rule(engine: EligibilityEngine) -> None:
    assessment = engine.assess({**PRIORITY, "violations": ["偷排"]}).to_json()
    parts = detail_parts(assessment)
    assert any("保障措施 第1条" in p and "偷排偷放" in p for p in parts)
    assert not any("overridden" in p for p in parts)


def test_missing_facts_are_named_in_chinese(engine: EligibilityEngine) -> None:
    assessment = engine.assess({"industry": "石墨烯"}).to_json()
    text = missing_facts(assessment, {"procedures_complete": "手续是否齐全"})
    assert "手续是否齐全" in text
