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
