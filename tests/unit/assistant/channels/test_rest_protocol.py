"""The REST channel's protocol: body validation, outbox tokens and the CORS policy."""

from __future__ import annotations

import json

import pytest

from assistant.channels.messages import MESSAGES
from assistant.channels.rest_protocol import (
    OUTBOX_TOKEN_HEADER,
    BadRequest,
    CorsPolicy,
    OutboxTokens,
    parse_webhook_body,
)
from conversation.limits import MAX_METADATA_BYTES

SECRET = b"unit-test-outbox-secret-of-32-chars!"


def body(**fields: object) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def refused(raw: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse_webhook_body(raw)
    return info.value


def test_a_well_formed_message_is_taken_as_sent() -> None:
    message = parse_webhook_body(body(sender="owner-1", message="审批有没有绿色通道？"))
    assert (message.sender, message.text, message.input_channel, message.metadata) == (
        "owner-1", "审批有没有绿色通道？", "rest", None)


def test_numeric_senders_empty_messages_and_own_channel_names_keep_working() -> None:
    assert parse_webhook_body(body(sender=42, message="你好")).sender == "42"
    assert parse_webhook_body(body(sender="a")).text == ""  # answered with a prompt
    named = parse_webhook_body(body(sender="a", message="x", input_channel="my-widget",
                                    metadata={"page": "/faq"}))
    assert named.input_channel == "my-widget" and named.metadata == {"page": "/faq"}


@pytest.mark.parametrize("raw", [b"[]", b'[{"sender": "a"}]', b"42", b'"x"', b"null", b"",
                                 b"{oops", b"\xff\xfe{", b"[" * 100_000])
def test_anything_but_a_json_object_is_refused_with_the_reason(raw: bytes) -> None:
    exc = refused(raw)
    assert (exc.status, exc.code) == (400, "not_json_object")
    assert exc.body() == {"error": "not_json_object", "message": MESSAGES.rest_not_json_object}


@pytest.mark.parametrize("message", [42, 1.5, True, ["a"], {"text": "a"}])
def test_a_message_that_is_not_text_is_refused(message: object) -> None:
    assert refused(body(sender="a", message=message)).code == "message_not_text"


@pytest.mark.parametrize(("sender", "code"), [
    (None, "sender_missing"), ("", "sender_missing"), (True, "sender_invalid"),
    (1.5, "sender_invalid"), (["a"], "sender_invalid"), ({"a": 1}, "sender_invalid"),
    ("   ", "sender_invalid"), ("x" * 256, "sender_invalid"), ("a\nb", "sender_invalid"),
    ("a\x00b", "sender_invalid"), ("张三", "sender_invalid"), ("%E5%BC%A0", "sender_invalid"),
    ("a b", "sender_invalid"), ("a/../b", "sender_invalid"), ("bob\u200b", "sender_invalid"),
])
def test_a_missing_or_unusable_sender_is_refused(sender: object, code: str) -> None:
    raw = body(message="你好") if sender is None else body(sender=sender, message="你好")
    assert refused(raw).code == code


def test_lone_surrogates_anywhere_are_refused() -> None:
    for raw in (b'{"sender": "a", "message": "\\ud800"}', b'{"sender": "a\\udfff"}',
                b'{"sender": "a", "message": "x", "metadata": {"k": "\\udc00"}}'):
        assert refused(raw).code == "bad_characters"
    # a correctly paired surrogate (an emoji) is fine
    assert parse_webhook_body(b'{"sender": "a", "message": "\\ud83d\\ude00"}').text == "😀"


def test_the_wechat_channel_and_its_namespace_cannot_be_claimed() -> None:
    for channel in ("wechat", "WeChat", " wechat "):
        exc = refused(body(sender="a", message="x", input_channel=channel))
        assert (exc.status, exc.code) == (403, "channel_not_allowed")
    exc = refused(body(sender="wechat:oABC", message="x"))
    assert (exc.status, exc.code) == (403, "sender_taken")
    for bad in ({"input_channel": 5}, {"metadata": "x"}, {"input_channel": "x" * 65}):
        assert refused(body(sender="a", message="x", **bad)).code == "field_invalid"


def test_outbox_tokens_are_per_sender_per_secret_and_checked_strictly() -> None:
    tokens = OutboxTokens(SECRET)
    token = tokens.token("owner-1")
    assert len(token) == 64 and token == OutboxTokens(SECRET).token("owner-1")
    assert tokens.valid("owner-1", token) and tokens.valid("owner-1", token.upper())
    assert not tokens.valid("owner-2", token)
    assert not OutboxTokens(SECRET + b"x").valid("owner-1", token)
    for wrong in (None, "", "0" * 64, token[:-1], "令牌"):
        assert not tokens.valid("owner-1", wrong)


def test_outbox_secret_comes_from_the_environment_or_is_generated_per_process() -> None:
    env = {"REST_OUTBOX_SECRET": SECRET.decode()}
    assert OutboxTokens.from_env(env).token("a") == OutboxTokens(SECRET).token("a")
    assert OutboxTokens.from_env({}).token("a") != OutboxTokens.from_env({}).token("a")
    with pytest.raises(ValueError, match="REST_OUTBOX_SECRET"):
        OutboxTokens.from_env({"REST_OUTBOX_SECRET": "short"})


def test_cors_allows_only_configured_origins_and_never_credentials() -> None:
    assert CorsPolicy.from_env({}).headers("https://a.example", preflight=True) == {}
    policy = CorsPolicy.parse("https://chat.example.cn, http://localhost:8080/")
    assert policy.headers("https://evil.example", preflight=False) == {}
    assert policy.headers(None, preflight=False) == {}
    simple = policy.headers("https://chat.example.cn", preflight=False)
    assert simple == {"Access-Control-Allow-Origin": "https://chat.example.cn",
                      "Access-Control-Expose-Headers": OUTBOX_TOKEN_HEADER}
    preflight = policy.headers("http://localhost:8080", preflight=True)
    assert OUTBOX_TOKEN_HEADER in preflight["Access-Control-Allow-Headers"]
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert not any("credentials" in h.lower() for h in {**simple, **preflight})


@pytest.mark.parametrize("value", ["*", "chat.example.cn", "https://a.example/path",
                                   "ftp://a.example"])
def test_cors_refuses_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ValueError, match="REST_CORS_ORIGINS"):
        CorsPolicy.parse(value)


def test_metadata_over_the_limit_gets_413_with_a_chinese_reason() -> None:
    fits = {"page": "页" * ((MAX_METADATA_BYTES - 20) // 3)}
    request = {"sender": "a", "message": "你好", "metadata": fits}
    assert parse_webhook_body(json.dumps(request).encode()).metadata == fits
    request["metadata"] = {"page": "页" * (MAX_METADATA_BYTES // 3 + 1)}
    with pytest.raises(BadRequest) as info:
        parse_webhook_body(json.dumps(request).encode())
    assert info.value.status == 413 and info.value.code == "metadata_too_large"
    assert info.value.message == MESSAGES.rest_metadata_too_large
