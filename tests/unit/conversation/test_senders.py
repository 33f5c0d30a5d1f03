"""The sender-id rule the channels and the console share (conversation/senders.py)."""

from __future__ import annotations

import httpx
import pytest

from conversation.senders import MAX_SENDER_CHARS, is_valid_sender_id, sender_id_for, visible


@pytest.mark.parametrize("sender", [
    "a", "7", "edge-1f2e", "wechat:oAbC_12-x", "user.name@example.cn", "8613800000000",
    "web.1_a:b@c+d~e", "x" * MAX_SENDER_CHARS,
])
def test_valid_ids_pass_through_a_url_path_unchanged(sender: str) -> None:
    assert is_valid_sender_id(sender)
    url = httpx.URL(f"http://rasa:5005/conversations/{sender}/tracker/events")
    assert url.raw_path.decode("ascii") == f"/conversations/{sender}/tracker/events"


@pytest.mark.parametrize("sender", [
    "", "张三", "%E5%BC%A0", "a b", 'a"b', "a<b>", "a{b}", "a`b", "a/b", "a?b", "a#b", ".",
    "..", "-a", "bob\u200b", "\u202ebob", "\ufeffbob", "ａｂｃ", "x" * (MAX_SENDER_CHARS + 1),
    None, 7,
])
def test_everything_else_is_refused(sender: object) -> None:
    assert not is_valid_sender_id(sender)


def test_odd_characters_are_shown_escaped_so_no_two_ids_look_alike() -> None:
    assert visible("bob") == "bob"
    assert visible("bob\u200b") == "bob\\u200b"
    assert visible("\u202ebob") == "\\u202ebob"
    assert visible("bob ") == "bob\\u0020"
    assert visible("bob\\u200b") == "bob\\\\u200b"  # a typed backslash is not an escape
    assert visible("张三") == "张三"
    ids = ["bob", "bob\u200b", "bob\u200c", "bob\u00a0", "bob ", "bob\\u200b"]
    assert len({visible(i) for i in ids}) == len(ids)


def test_any_name_gets_a_stable_valid_sender_id() -> None:
    assert sender_id_for("console-", "staff1") == "console-staff1"
    odd = sender_id_for("console-", "张三")
    assert is_valid_sender_id(odd) and odd == sender_id_for("console-", "张三")
    assert odd != sender_id_for("console-", "李四")
