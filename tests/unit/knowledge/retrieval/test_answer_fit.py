"""Whether a clause answers what the question asks (knowledge/data/answer_fit.yml as shipped),
read on the opinion's own sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.retrieval.answer_fit import AnswerFitRules, default_rules

GREEN_CHANNEL = ("制定实施生态环境领域投资和项目建设正向鼓励清单，开通“绿色通道”，优化审批服务流程，"
                 "落实各项环保财税政策、实行差别化电价、支持绿色单位评选等政策措施。")
WARNING = "各地严格按照重污染天气预警级别启动重污染天气响应措施，提前1至2天发布预警信息。"
ULTRA_LOW = "对工业企业按照不同行业细化评判标准，实行分类监督管理，鼓励实施超低排放改造。"
CLOSURE = "对不符合产业政策、手续不全、治理无望、不能稳定达标排放的企业，坚决依法关停取缔。"
STAGGER = "对资源环境效率低、排放总量大、污染严重的行业企业，坚决予以错峰生产，加大执法监管力度。"
SEIZURE_LIMIT = "查封、扣押的期限不得超过三十日；情况复杂的，经负责人批准，可以延长，但延长期限不得超过三十日。"
FINE = "处十万元以上一百万元以下的罚款。"
PERMIT = "排污单位应当向其生产经营场所所在地设区的市级以上地方人民政府生态环境主管部门申请取得排污许可证。"


@pytest.fixture(scope="module")
def rules() -> AnswerFitRules:
    return default_rules()


@pytest.mark.parametrize(
    ("question", "clause", "missing"),
    [
        ("环保财税政策能补贴多少钱", GREEN_CHANNEL, "金额"),
        ("差别化电价差多少钱一度", GREEN_CHANNEL, "金额"),
        ("走绿色通道的话审批几天能下来", GREEN_CHANNEL, "时间或期限"),
        ("错峰生产名单啥时候公布", "建立健全秋冬季错峰生产企业清单。", "时间或期限"),
        ("绿色通道具体怎么申请", GREEN_CHANNEL, "办理流程"),
        ("申请表在哪里下载", GREEN_CHANNEL, "办理流程"),
        ("超低排放改造有补贴没", ULTRA_LOW, "补贴或资金支持"),
        ("绿色通道几天能批，要交多少钱", GREEN_CHANNEL, "金额和时间或期限"),
    ],
)
def test_a_clause_that_does_not_give_what_is_asked_is_named_as_such(
        rules, question: str, clause: str, missing: str) -> None:
    fit = rules.fit(question, clause)
    assert fit.missing_label == missing
    assert fit.conflict is None


@pytest.mark.parametrize(
    ("question", "clause"),
    [
        ("重污染预警提前几天发", WARNING),  # 提前1至2天
        ("查封扣押最长能扣多久", SEIZURE_LIMIT),  # 三十日
        ("超标排放罚多少", FINE),  # 十万元以上
        ("排污许可证去哪申请", PERMIT),  # 向…申请
        ("有没有财税上的补贴", GREEN_CHANNEL),  # 财税政策
        # no specific is asked: facts such as 手续 are not a request for a procedure
        ("手续齐全的企业能走绿色通道吗", GREEN_CHANNEL),
        ("审批有没有绿色通道", GREEN_CHANNEL),
        # 好几天 says how long something lasted; it asks nothing
        ("设备坏了好几天没修会怎样", GREEN_CHANNEL),
        # a clause naming who helps answers "找谁"
        ("遇到治污难题找谁帮忙", "提供产业政策咨询、污染防治技术服务。"),
    ],
)
def test_a_clause_that_gives_what_is_asked_answers_it(rules, question: str, clause: str) -> None:
    assert rules.fit(question, clause).missing == ()


@pytest.mark.parametrize(
    ("question", "clause", "stated", "clause_case"),
    [
        ("我们排放一直达标，会不会也被停产", CLOSURE, "排放达标", "不能稳定达标排放或超标排放"),
        ("手续齐全的话会被关停吗", CLOSURE, "手续齐全", "手续不全或无证排污"),
        ("我们符合产业政策，会被取缔吗", CLOSURE, "符合产业政策", "不符合产业政策"),
        ("我们污染不重会被错峰生产吗", STAGGER, "污染不重、排放量不大",
         "资源环境效率低、排放总量大、污染严重"),
    ],
)
def test_a_clause_about_the_opposite_case_of_the_owners_is_a_conflict(
        rules, question: str, clause: str, stated: str, clause_case: str) -> None:
    conflict = rules.fit(question, clause).conflict
    assert conflict is not None
    assert (conflict.stated, conflict.clause_case) == (stated, clause_case)
    assert conflict.instead is not None and conflict.instead.phrase


@pytest.mark.parametrize(
    ("question", "clause"),
    [
        # the owner states the clause's own case (negated before the phrase)
        ("我们不能稳定达标，会不会被关停", CLOSURE),
        ("排放没能达标会被关停吗", CLOSURE),
        ("手续不全会被关停吗", CLOSURE),
        # nothing is stated about the owner
        ("不符合产业政策的企业会怎么样", CLOSURE),
        # a stated fact, but no consequence is asked about
        ("我们排放一直达标，能走绿色通道吗", GREEN_CHANNEL),
        ("我们排放一直达标，能享受什么政策", CLOSURE),
    ],
)
def test_no_conflict_where_the_question_does_not_contradict_the_clause(
        rules, question: str, clause: str) -> None:
    assert rules.fit(question, clause).conflict is None


def test_questions_asking_for_specifics_are_policy_questions(rules) -> None:
    assert rules.asks_specifics("环保专项资金申请表在哪里下载")
    assert rules.asks_specifics("审批几天能下来")
    assert not rules.asks_specifics("今天天气怎么样")
    assert not rules.asks_specifics("手续齐全吗")


def test_rules_are_data(tmp_path: Path) -> None:
    path = tmp_path / "answer_fit.yml"
    path.write_text(
        "specifics:\n"
        "  - {kind: amount, label: 钱数, asks: [多少钱], gives: ['\\d+元']}\n"
        "opposite_conditions:\n"
        "  - {stated: [有证], stated_label: 有证, clause: [无证], clause_label: 无证,\n"
        "     instead: {query: 持证, phrase: 持证}}\n", encoding="utf-8")
    rules = AnswerFitRules.load(path)
    assert rules.fit("要交多少钱", "收费。").missing_label == "钱数"
    assert rules.fit("要交多少钱", "收费100元。").missing == ()
    conflict = rules.fit("我们有证会怎样", "无证的，处罚。").conflict
    assert conflict is not None and conflict.instead is not None
    assert conflict.instead.query == "持证"
    assert AnswerFitRules.load(tmp_path / "absent.yml").fit("多少钱", "x").missing == ()
