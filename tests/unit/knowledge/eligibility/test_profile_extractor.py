"""Reading enterprise facts from chat messages, with the shipped phrase data."""

from __future__ import annotations

import pytest

from knowledge.eligibility.industry_classifier import IndustryClassification
from knowledge.eligibility.profile_extractor import UNKNOWN, ProfileExtractor
from tests.conftest import PROJECT_ROOT

PHRASES = PROJECT_ROOT / "knowledge/data/profile_phrases.yml"


@pytest.fixture(scope="module")
def extractor() -> ProfileExtractor:
    return ProfileExtractor.load(PHRASES)


def matched(text: str) -> IndustryClassification:
    return IndustryClassification(text, "matched", ("新材料",), ())


def unknown(text: str) -> IndustryClassification:
    return IndustryClassification(text, "unknown", (), ())


def test_several_facts_in_one_message(extractor: ProfileExtractor) -> None:
    text = "我们是做石墨烯材料的小企业，手续齐全，排放稳定达标"
    facts = extractor.extract(text, "industry", matched(text))
    assert facts == {
        "industry": text,
        "scale": "small",
        "procedures_complete": True,
        "meets_emission_standards": True,
    }


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("手续不全", "procedures_complete", False),
        ("环评还没批下来", "procedures_complete", False),
        ("我们厂手续齐全", "procedures_complete", True),
        ("偶尔会超标", "meets_emission_standards", False),
        ("能稳定达标", "meets_emission_standards", True),
        ("我们污染不大", "heavy_pollution", False),
        ("排放量大", "heavy_pollution", True),
        ("属于淘汰类产能", "conforms_industrial_policy", False),
        ("我们是省重点项目", "key_project", "provincial"),
        ("不是重点项目", "key_project", "none"),
        ("不对，我们是中型企业", "scale", "medium"),
        ("我们是个体户", "scale", "micro"),
    ],
)
def test_stated_facts(extractor: ProfileExtractor, text: str, field: str, value: object) -> None:
    assert extractor.stated_facts(text)[field] == value


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("是", True), ("是的！", True), ("否", False), ("没有", False), ("不清楚", UNKNOWN),
     ("不知道。", UNKNOWN)],
)
def test_short_answer_fills_the_requested_fact(
    extractor: ProfileExtractor, answer: str, expected: object
) -> None:
    facts = extractor.extract(answer, "procedures_complete", unknown(answer))
    assert facts == {"procedures_complete": expected}


def test_short_answer_without_a_question_states_nothing(extractor: ProfileExtractor) -> None:
    assert extractor.extract("是", None, unknown("是")) == {}


def test_key_project_no_means_none_but_yes_needs_the_level(extractor: ProfileExtractor) -> None:
    assert extractor.extract("不是", "key_project", unknown("不是")) == {"key_project": "none"}
    assert extractor.extract("是", "key_project", unknown("是")) == {}


def test_unknown_industry_is_kept_only_when_asked(extractor: ProfileExtractor) -> None:
    assert extractor.extract("做家具加工的", "industry", unknown("做家具加工的")) == {
        "industry": "做家具加工的"}
    assert extractor.extract("做家具加工的", "procedures_complete", unknown("x")) == {}
    # A fact answer to the industry question is not an industry.
    assert "industry" not in extractor.extract("手续齐全", "industry", unknown("手续齐全"))


def test_labels_name_every_profile_fact(extractor: ProfileExtractor) -> None:
    from knowledge.eligibility.profile import Profile

    assert set(Profile.field_order()) <= set(extractor.labels)
