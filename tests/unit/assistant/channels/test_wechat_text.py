"""Splitting long answers for WeChat's message size, and rendering replies in WeChat markup."""

from __future__ import annotations

import re

import pytest

from assistant.channels.wechat_text import (
    TOO_LONG_NOTE,
    nbytes,
    render_bot_messages,
    split_for_wechat,
    to_wechat_markup,
)

DOC = "《关于进一步强化生态环境领域差别化管控措施 切实做好高质量项目服务保障的意见》"
CITATION = f"——出自{DOC}工作任务 第2条（优化应急减排措施）"
SENTENCE = "各地严格按照重污染天气预警级别启动重污染天气响应措施，提前1至2天发布预警信息。"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_short_text_is_one_part_unchanged() -> None:
    text = f"{SENTENCE}\n{CITATION}"
    assert split_for_wechat(text, 2000) == [text]


@pytest.mark.parametrize("max_bytes", [300, 500, 800, 2000])
def test_long_answer_parts_fit_and_read_as_the_original(max_bytes: int) -> None:
    text = "关于“预警”：\n" + SENTENCE * 30 + f"\n{CITATION}\n\n相关规定另见{DOC}工作任务 第3条。"
    parts = split_for_wechat(text, max_bytes, max_parts=100)
    assert len(parts) > 1
    assert all(nbytes(p) <= max_bytes for p in parts)
    assert squash("".join(parts)) == squash(text)
    # cut only at sentence ends: every part but the last ends a sentence or a line
    assert all(p.endswith(("。", "）")) for p in parts[:-1])


@pytest.mark.parametrize("max_bytes", [300, 420, 600, 1000])
def test_citation_is_never_cut_and_stays_with_the_sentence_it_cites(max_bytes: int) -> None:
    text = SENTENCE * 12 + f"\n{CITATION}\n\n" + SENTENCE * 5 + f"\n{CITATION}"
    parts = split_for_wechat(text, max_bytes, max_parts=100)
    assert all(nbytes(p) <= max_bytes for p in parts)
    for part in parts:
        assert part.count("《") == part.count("》"), part  # no title cut in two
        assert not part.startswith("——"), "a citation line never opens a part alone"
    cited = [p for p in parts if CITATION in p]
    assert len(cited) == 2 and all(p.split(CITATION)[0].endswith(f"{SENTENCE}\n") for p in cited)


def test_sentence_longer_than_a_message_is_cut_after_a_comma() -> None:
    long_sentence = "，".join(["对符合条件的项目开辟绿色通道"] * 60) + "。"
    parts = split_for_wechat(long_sentence, 300, max_parts=100)
    assert all(nbytes(p) <= 300 for p in parts)
    assert all(p.endswith(("，", "。")) for p in parts)
    assert squash("".join(parts)) == squash(long_sentence)


def test_too_many_parts_are_capped_with_a_note() -> None:
    parts = split_for_wechat(SENTENCE * 100, 300, max_parts=3)
    assert len(parts) == 3 and parts[-1].endswith(TOO_LONG_NOTE)
    assert all(nbytes(p) <= 300 for p in parts)


def test_empty_text_has_no_parts() -> None:
    assert split_for_wechat("  \n ", 2000) == []


def test_render_joins_messages_and_turns_buttons_into_tappable_menu_links() -> None:
    text = render_bot_messages([
        {"recipient_id": "o1", "text": "您是想问哪方面的规定？",
         "buttons": [{"title": "错峰生产", "payload": "错峰生产"},
                     {"title": "绿色通道", "payload": "/ask"}]},
        {"recipient_id": "o1", "text": "需要人工请说“转人工”。"},
        {"recipient_id": "o1", "custom": {"x": 1}},
    ])
    assert text.startswith("您是想问哪方面的规定？\n· <a href=\"weixin://bizmsgmenu?")
    assert "msgmenucontent=错峰生产&msgmenuid=1\">错峰生产</a>" in text
    assert "msgmenucontent=绿色通道&msgmenuid=2" in text and "/ask" not in text
    assert text.endswith("\n\n需要人工请说“转人工”。")


def test_markdown_links_and_bold_become_wechat_markup() -> None:
    assert to_wechat_markup("见[原文](https://example.org/a?b=1&c=2)，**重点**") == (
        '见<a href="https://example.org/a?b=1&amp;c=2">原文</a>，重点')


def test_an_answer_that_waited_comes_under_its_question() -> None:
    from assistant.channels.wechat_text import MAX_QUESTION_CHARS, earlier_answer

    text = earlier_answer("审批有没有\n绿色通道？", "有。——出自《意见》工作任务 第1条")
    assert text.startswith("您之前问“审批有没有 绿色通道？”") and text.endswith("第1条")
    long = earlier_answer("问" * 100, "答")
    assert "问" * MAX_QUESTION_CHARS + "…" in long and "问" * (MAX_QUESTION_CHARS + 1) not in long
