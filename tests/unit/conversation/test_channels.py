"""Which channel a conversation belongs to, and the WeChat namespace."""

from __future__ import annotations

from conversation.channels import (
    REST,
    WECHAT,
    is_reserved,
    owner,
    wechat_openid,
    wechat_sender_id,
)


def test_a_conversation_belongs_to_wechat_once_a_wechat_user_wrote_in_it() -> None:
    assert owner([]) is None
    assert owner([REST, REST]) == REST
    assert owner([WECHAT]) == WECHAT
    # a REST message that landed in a WeChat conversation (before the fix) changes nothing
    assert owner([WECHAT, REST]) == WECHAT
    assert owner([REST, WECHAT]) == WECHAT
    assert owner(["my-widget", None]) == "my-widget"


def test_wechat_users_whose_openid_was_taken_live_in_their_own_namespace() -> None:
    assert wechat_sender_id("oABC") == "oABC"
    diverted = wechat_sender_id("oABC", taken_by_another_channel=True)
    assert diverted == "wechat:oABC" and is_reserved(diverted) and not is_reserved("oABC")
    assert wechat_openid(diverted) == "oABC" and wechat_openid("oABC") == "oABC"
