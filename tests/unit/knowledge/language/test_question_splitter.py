from __future__ import annotations

import pytest

from knowledge.language.question_splitter import MAX_QUESTIONS, is_question, split_questions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("审批有没有绿色通道？", ["审批有没有绿色通道？"]),
        ("预警提前几天发布？审批有没有绿色通道？", ["预警提前几天发布？", "审批有没有绿色通道？"]),
        ("预警提前几天发布\n审批有没有绿色通道", ["预警提前几天发布", "审批有没有绿色通道"]),
        # A short courtesy or a comma does not make a second question.
        ("你好！审批有没有绿色通道？", ["你好！审批有没有绿色通道？"]),
        ("我们是小厂，审批有没有绿色通道", ["我们是小厂，审批有没有绿色通道"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_questions(text: str, expected: list[str]) -> None:
    assert split_questions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a comma between two complete questions
        ("审批能走绿色通道吗，预警提前几天发", ["审批能走绿色通道吗", "预警提前几天发"]),
        # connectors, with or without a space; the connector is not part of the question
        ("哪些企业优先保障 还有偷排会怎么处理", ["哪些企业优先保障", "偷排会怎么处理"]),
        ("审批有没有绿色通道，另外电价有没有优惠", ["审批有没有绿色通道", "电价有没有优惠"]),
        ("预警提前几天发？再问一下，电价有没有优惠", ["预警提前几天发？", "电价有没有优惠"]),
        # ... unless it belongs to the question ("还有没有")
        ("领跑者能优先保障吗还有没有补贴", ["领跑者能优先保障吗", "还有没有补贴"]),
        # a run-on without punctuation
        ("领跑者企业能优先保障吗还有治污技术上有没有人帮", ["领跑者企业能优先保障吗", "治污技术上有没有人帮"]),
        ("领跑者企业能优先保障吗治污技术有没有人帮", ["领跑者企业能优先保障吗", "治污技术有没有人帮"]),
        # a space between two complete questions
        ("哪些企业优先保障 偷排会怎么处理", ["哪些企业优先保障", "偷排会怎么处理"]),
        # a numbered list: the numbers are not part of the questions
        ("1.用电价格有没有区别\n2.检查会不会一律顶格罚", ["用电价格有没有区别", "检查会不会一律顶格罚"]),
        ("1、电价有没有区别\n2、绿色通道怎么申请", ["电价有没有区别", "绿色通道怎么申请"]),
        ("（1）电价有没有区别\n（2）绿色通道怎么申请", ["电价有没有区别", "绿色通道怎么申请"]),
        # context stays with its question, before or after it
        ("我们厂是做家具的，能不能走绿色通道", ["我们厂是做家具的，能不能走绿色通道"]),
        ("我们排放一直达标，会不会也被停产", ["我们排放一直达标，会不会也被停产"]),
        ("我们是小厂。审批有没有绿色通道？", ["我们是小厂。审批有没有绿色通道？"]),
        ("审批能走绿色通道吗，我们是做家具的，预警提前几天发",
         ["审批能走绿色通道吗", "我们是做家具的，预警提前几天发"]),
        # a fact that only looks like a question (好几天) is context, not a question
        ("监测设备坏了好几天没修 被查到罚多少", ["监测设备坏了好几天没修 被查到罚多少"]),
        # an elliptical second half is not a question of its own
        ("绿色通道怎么走，要多久", ["绿色通道怎么走，要多久"]),
        ("手续不全会被关停吗，不达标的呢", ["手续不全会被关停吗，不达标的呢"]),
        # a connector inside one question does not split it
        ("环保领跑者以及重点项目能优先保障吗", ["环保领跑者以及重点项目能优先保障吗"]),
        # a list of topics without questions is still a list
        ("1.电价优惠\n2.绿色通道审批", ["电价优惠", "绿色通道审批"]),
        # a number inside the question is not a list marker
        ("3.5万元的罚款能分期交吗", ["3.5万元的罚款能分期交吗"]),
    ],
)
def test_questions_joined_without_a_question_mark_are_split(text: str,
                                                            expected: list[str]) -> None:
    assert split_questions(text) == expected


def test_at_most_three_questions() -> None:
    text = "预警提前几天发布？" * 2 + "审批有没有绿色通道？" * 3
    assert len(split_questions(text)) == MAX_QUESTIONS


@pytest.mark.parametrize(
    ("text", "asks"),
    [("生产水泥的", False), ("我们是小厂，手续齐全", False), ("预警提前几天发布", True),
     ("审批有没有绿色通道", True), ("会被关停吗", True), ("", False)],
)
def test_is_question(text: str, asks: bool) -> None:
    assert is_question(text) is asks
