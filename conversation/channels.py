"""Which channel a conversation belongs to, decided the same way by the channels and the console.

A conversation is the tracker stored under one sender id. REST clients choose their sender id;
WeChat users are their OpenID. So that neither can write into, or read, the other's
conversation:

- a conversation in which a WeChat user has written belongs to WeChat: the REST channel refuses
  a message for it, and the console delivers staff replies through WeChat;
- a conversation a REST client opened first stays theirs: the WeChat user with that OpenID is
  kept under `wechat:<OpenID>` instead (`WECHAT_NAMESPACE`), a sender id REST may never use;
- a REST client may not name the WeChat channel as its input channel.

Standard library only, like the rest of `conversation/`.
"""

from __future__ import annotations

from collections.abc import Iterable

REST = "rest"
WECHAT = "wechat"
# Channels that deliver replies themselves: a REST client may not write as one of them.
DELIVERING_CHANNELS = frozenset({WECHAT})
# Sender ids of WeChat users whose bare OpenID a REST client took first.
WECHAT_NAMESPACE = f"{WECHAT}:"
RESERVED_PREFIXES = (WECHAT_NAMESPACE,)


def is_reserved(sender_id: str) -> bool:
    """Whether `sender_id` is in a namespace REST clients may not use."""
    return sender_id.startswith(RESERVED_PREFIXES)


def owner(input_channels: Iterable[str | None]) -> str | None:
    """The channel a conversation belongs to, from the input channel of each user message in
    store order: WeChat once a WeChat user wrote in it, else the latest channel (None: no
    user message yet)."""
    latest: str | None = None
    for channel in input_channels:
        if channel == WECHAT:
            return WECHAT
        latest = channel or latest
    return latest


def wechat_sender_id(openid: str, taken_by_another_channel: bool = False) -> str:
    """The sender id a WeChat user's conversation is stored under."""
    return f"{WECHAT_NAMESPACE}{openid}" if taken_by_another_channel else openid


def wechat_openid(sender_id: str) -> str:
    """The OpenID to deliver to, for a conversation that belongs to WeChat."""
    return sender_id.removeprefix(WECHAT_NAMESPACE)
