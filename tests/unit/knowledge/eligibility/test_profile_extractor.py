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
        "industry": "我们是做石墨烯材料的小企业",  # the clause that describes it
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
        ("没有超标", "meets_emission_standards", True),
        ("说实话经常超标，治理设备老是坏", "meets_emission_standards", False),
        ("排放量很小", "heavy_pollution", False),
        ("是，排放量挺大", "heavy_pollution", True),
        ("我是说我们不是重污染", "heavy_pollution", False),
        ("环评排污证都办下来了", "procedures_complete", True),
        ("排污许可证还没下来", "procedures_complete", False),
        # Negation wins over a phrase the clause merely contains.
        ("没评过领跑者", "environmental_leader", False),
        ("我意思是不属于淘汰类", "conforms_industrial_policy", True),
        ("重点项目和领跑者都不清楚", "key_project", UNKNOWN),
        ("重点项目和领跑者都不清楚", "environmental_leader", UNKNOWN),
        ("排放一直合格", "meets_emission_standards", True),
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


@pytest.mark.parametrize(("answer", "requested", "expected"), [
    # Natural answers to the question just asked: elliptical, hedged, negated.
    ("都办了", "procedures_complete", True),
    ("都齐", "procedures_complete", True),
    ("基本达标吧", "meets_emission_standards", True),
    ("不重", "heavy_pollution", False),
    ("不算大", "heavy_pollution", False),
    ("应该符合", "conforms_industrial_policy", True),
    ("不知道啊，没测过", "meets_emission_standards", UNKNOWN),
    ("没听说过，不清楚", "environmental_leader", UNKNOWN),
    ("这个不清楚", "key_project", UNKNOWN),
    # longer, but naming what was asked in general words
    ("排放应该没问题", "meets_emission_standards", True),
    ("该办的证都办了吧", "procedures_complete", True),
])
def test_natural_answers_fill_the_requested_fact(
    extractor: ProfileExtractor, answer: str, requested: str, expected: object
) -> None:
    assert extractor.extract(answer, requested, unknown(answer)) == {requested: expected}


def test_a_long_clause_with_a_yes_word_is_not_an_answer(extractor: ProfileExtractor) -> None:
    text = "我们是做光伏组件的"
    assert extractor.extract(text, "procedures_complete", unknown(text)) == {}
    # ... nor a longer one about something else, nor general words for another question
    assert extractor.extract("治理设备老是坏", "meets_emission_standards", unknown("x")) == {}
    assert extractor.extract("排放应该没问题", "conforms_industrial_policy", unknown("x")) == {}
    assert extractor.extract("哈哈哈", "procedures_complete", unknown("哈哈哈")) == {}


def test_several_facts_in_any_order_keep_the_industry_clause(
    extractor: ProfileExtractor,
) -> None:
    text = "排放一直达标，手续也全，我们是做光伏组件的，污染不大"
    assert extractor.extract(text, "industry", unknown(text)) == {
        "meets_emission_standards": True, "procedures_complete": True,
        "heavy_pollution": False, "industry": "我们是做光伏组件的"}


def test_a_correction_is_recognised_and_states_the_new_fact(
    extractor: ProfileExtractor,
) -> None:
    stated = extractor.read("哦不对，排污许可证还没下来", "conforms_industrial_policy")
    assert stated.corrects and stated.facts == {"procedures_complete": False}
    assert not stated.terse  # it named the topic: no confirmation needed
    # A bare "不对" answers the question instead.
    bare = extractor.read("不对", "procedures_complete")
    assert not bare.corrects and bare.facts == {"procedures_complete": False}


def test_a_terse_adverse_answer_needs_confirmation(extractor: ProfileExtractor) -> None:
    assert extractor.needs_confirmation(
        extractor.read("不是", "conforms_industrial_policy")) == "conforms_industrial_policy"
    assert extractor.needs_confirmation(extractor.read("是", "heavy_pollution")) == \
        "heavy_pollution"
    # Stated in words, or a favourable answer: nothing to confirm.
    assert extractor.needs_confirmation(
        extractor.read("不符合产业政策", "conforms_industrial_policy")) is None
    assert extractor.needs_confirmation(extractor.read("不重", "heavy_pollution")) is None


def test_statements_repeat_the_facts_back(extractor: ProfileExtractor) -> None:
    assert extractor.statements({"industry": "做铸件的", "procedures_complete": True,
                                 "meets_emission_standards": False}) == \
        "“做铸件的”、手续齐全、不能稳定达标排放"
