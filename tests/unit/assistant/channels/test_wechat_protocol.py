"""WeChat protocol: signatures, safe-mode encryption round trips and hostile input.

The signature is checked against the documented algorithm computed here independently
(sha1 of the sorted, concatenated token, timestamp, nonce[, Encrypt]); encryption round-trips
through wechatpy with fixed keys, and one known-answer vector (an encrypted callback from
wechatpy's own test suite) pins the whole safe-mode path to ciphertext made elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

import pytest
from wechatpy.crypto import WeChatCrypto

from assistant.channels.wechat_config import WeChatSettings
from assistant.channels.wechat_dedup import dedup_key
from assistant.channels.wechat_protocol import Rejected, WeChatProtocol, parse_xml_fields

TOKEN = "unitToken42"
APP_ID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]  # 43 characters, as WeChat shows it
NOW = 1_700_000_000
TS = str(NOW - 3)
NONCE = "1234567890"


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def settings(mode: str = "compatible", **kw) -> WeChatSettings:
    return WeChatSettings(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY, mode=mode, **kw)


def protocol(mode: str = "compatible", **kw) -> WeChatProtocol:
    return WeChatProtocol(settings(mode, **kw), clock=lambda: NOW)


def text_xml(content: str = "审批有没有绿色通道？", openid: str = "oUser_abc-123",
             msg_id: str = "6054768590064713728") -> str:
    return ("<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{TS}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def plain_args(ts: str = TS, nonce: str = NONCE) -> dict[str, str]:
    return {"signature": sha1_sorted(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


def encrypted_request(xml: str, app_id: str = APP_ID, key: str = AES_KEY,
                      ts: str = TS) -> tuple[dict[str, str], bytes]:
    """What WeChat sends in safe mode: <Encrypt> plus msg_signature over it."""
    sealed = WeChatCrypto(TOKEN, key, app_id).encrypt_message(xml, NONCE, ts)
    cipher = {c.tag: c.text for c in ET.fromstring(sealed)}["Encrypt"]
    args = {**plain_args(ts), "encrypt_type": "aes",
            "msg_signature": sha1_sorted(TOKEN, ts, NONCE, cipher)}
    body = (f"<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName>"
            f"<Encrypt><![CDATA[{cipher}]]></Encrypt></xml>").encode()
    return args, body


def rejected(call, *args) -> Rejected:
    with pytest.raises(Rejected) as info:
        call(*args)
    return info.value


# -- URL verification -------------------------------------------------------------------------
def test_url_verification_echoes_echostr_for_the_documented_signature() -> None:
    args = {**plain_args(), "echostr": "5837397520665436492"}
    assert protocol().verify_url(args) == "5837397520665436492"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"signature": "0" * 40}, 403),
        ({"signature": None}, 403),
        ({"signature": "not-hex"}, 403),
        ({"nonce": "999"}, 403),  # signature no longer matches
        ({"timestamp": "abc"}, 403),
        ({"echostr": "<script>"}, 400),
    ],
)
def test_url_verification_refuses_what_wechat_did_not_sign(change, status) -> None:
    args = {**plain_args(), "echostr": "12345", **change}
    assert rejected(protocol().verify_url, args).status == status


def test_url_verification_refuses_a_stale_timestamp() -> None:
    old = str(NOW - 301)
    args = {**plain_args(old), "echostr": "12345"}
    err = rejected(protocol().verify_url, args)
    assert err.status == 403 and "stale" in err.reason
    assert protocol(max_timestamp_age_seconds=600).verify_url(args) == "12345"


# -- plaintext messages -----------------------------------------------------------------------
def test_plaintext_message_is_parsed_with_wechatpy() -> None:
    incoming = protocol().open_message(plain_args(), text_xml().encode())
    assert not incoming.encrypted
    assert incoming.openid == "oUser_abc-123" and incoming.msg_type == "text"
    assert incoming.message.content == "审批有没有绿色通道？"
    assert dedup_key(incoming.fields) == "msg:6054768590064713728"


def test_plaintext_with_wrong_signature_or_old_timestamp_is_refused() -> None:
    args = {**plain_args(), "signature": sha1_sorted("other-token", TS, NONCE)}
    assert rejected(protocol().open_message, args, text_xml().encode()).status == 403
    old = str(NOW - 3600)
    err = rejected(protocol().open_message, plain_args(old), text_xml().encode())
    assert err.status == 403 and "stale" in err.reason


def test_safe_mode_refuses_plaintext_and_plain_mode_refuses_ciphertext() -> None:
    assert rejected(protocol("safe").open_message, plain_args(), text_xml().encode()).status == 400
    plain_only = WeChatProtocol(WeChatSettings(token=TOKEN), clock=lambda: NOW)
    args, body = encrypted_request(text_xml())
    assert rejected(plain_only.open_message, args, body).status == 400


# -- safe mode (AES) --------------------------------------------------------------------------
def test_safe_mode_round_trip_message_and_reply() -> None:
    p = protocol("safe")
    args, body = encrypted_request(text_xml("錯峰生產怎麼定"))
    assert b"CDATA[\xe9\x8c\xaf" not in body  # the question is not on the wire in clear
    incoming = p.open_message(args, body)
    assert incoming.encrypted and incoming.message.content == "錯峰生產怎麼定"

    reply = p.reply_xml(incoming, "答复——出自《某意见》工作任务 第1条（…）")
    outer = {c.tag: c.text for c in ET.fromstring(reply)}
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert outer["MsgSignature"] == sha1_sorted(TOKEN, outer["TimeStamp"], outer["Nonce"],
                                                outer["Encrypt"])
    inner = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        {"Encrypt": outer["Encrypt"]}, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    fields = {c.tag: c.text for c in ET.fromstring(inner)}
    assert fields["Content"] == "答复——出自《某意见》工作任务 第1条（…）"
    assert fields["ToUserName"] == "oUser_abc-123" and fields["FromUserName"] == "gh_123456789abc"
    assert fields["MsgType"] == "text"


def test_known_answer_vector_decrypts() -> None:
    """The encrypted-callback vector of wechatpy's own test suite (token 123456; a WeCom
    callback, which uses the same AES scheme): it decrypts to Content 'test' from 'messense'."""
    p = WeChatProtocol(
        WeChatSettings(token="123456", app_id="wx49f0ab532d5d035a", mode="safe",
                       encoding_aes_key="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"),
        clock=lambda: 1411525903,
    )
    cipher = (
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
        "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
        "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
        "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
        "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
    )
    body = f"<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>"
    args = {"timestamp": "1411525903", "nonce": "461056294", "encrypt_type": "aes",
            "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"}
    assert args["msg_signature"] == sha1_sorted("123456", "1411525903", "461056294", cipher)
    incoming = p.open_message(args, body.encode())
    assert incoming.fields["Content"] == "test" and incoming.openid == "messense"
    assert incoming.fields["MsgId"] == "4363689963896700987"


@pytest.mark.parametrize(
    ("make", "status"),
    [
        # signed correctly but sealed for another AppID: wechatpy's AppID check refuses it
        (lambda: encrypted_request(text_xml(), app_id="wxffffffffffffffff"), 400),
        # sealed with another AES key
        (lambda: encrypted_request(
            text_xml(), key=base64.b64encode(b"k" * 32).decode()[:-1]), 400),
    ],
)
def test_undecryptable_body_is_refused_with_400(make, status) -> None:
    args, body = make()
    err = rejected(protocol("safe").open_message, args, body)
    assert err.status == status and "undecryptable" in err.reason


def test_garbage_ciphertext_with_valid_signature_is_400_and_bad_msg_signature_403() -> None:
    for cipher in ("AAAA", "bm90IGEgYmxvY2s=", "!!!notbase64!!!", "A" * 4000):
        args = {**plain_args(), "encrypt_type": "aes",
                "msg_signature": sha1_sorted(TOKEN, TS, NONCE, cipher)}
        body = f"<xml><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>".encode()
        assert rejected(protocol("safe").open_message, args, body).status == 400
    args, body = encrypted_request(text_xml())
    args["msg_signature"] = "f" * 40
    assert rejected(protocol("safe").open_message, args, body).status == 403
    args, body = encrypted_request(text_xml())
    tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[QUJD")
    assert rejected(protocol("safe").open_message, args, tampered).status == 403


def test_encrypted_message_with_stale_timestamp_is_refused() -> None:
    args, body = encrypted_request(text_xml(), ts=str(NOW - 1000))
    assert rejected(protocol("safe").open_message, args, body).status == 403


# -- hostile and malformed XML ---------------------------------------------------------------
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
              for i in range(1, 10))
    + ']><xml><Content>&lol9;</Content></xml>'
)
XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
       "<MsgType>text</MsgType><Content>&xxe;</Content></xml>")
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml/>'
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM '
                    '"http://127.0.0.1:1/p.dtd"> %p;]><xml/>')


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY,
        "<xml><ToUserName>", "not xml at all", "", "<html><body/></html>",
        # required fields missing, nested, repeated or malformed
        "<xml><MsgType>text</MsgType></xml>",
        text_xml().replace("<FromUserName><![CDATA[oUser_abc-123]]></FromUserName>",
                           "<FromUserName><a>x</a></FromUserName>"),
        text_xml().replace("<MsgId>", "<MsgType>text</MsgType><MsgId>"),
        text_xml(openid="o User/../../x"),
        text_xml(msg_id="12; DROP TABLE"),
    ],
)
def test_hostile_or_malformed_xml_is_refused_with_400(body: str) -> None:
    err = rejected(protocol().open_message, plain_args(), body.encode())
    assert err.status == 400


def test_invalid_utf8_and_oversized_bodies_are_refused() -> None:
    assert rejected(protocol().open_message, plain_args(), b"<xml>\xff\xfe</xml>").status == 400
    big = text_xml(content="审" * 30_000).encode()
    assert rejected(protocol().open_message, plain_args(), big).status == 413


def test_signature_is_checked_before_the_body_is_parsed() -> None:
    args = {**plain_args(), "signature": "0" * 40}
    assert rejected(protocol().open_message, args, BILLION_LAUGHS.encode()).status == 403


def test_parse_xml_fields_keeps_top_level_text() -> None:
    fields = parse_xml_fields(text_xml())
    assert fields["Content"] == "审批有没有绿色通道？" and fields["MsgType"] == "text"


# -- events and other message types ----------------------------------------------------------
def test_event_dedup_key_uses_sender_and_create_time() -> None:
    xml = ("<xml><ToUserName>gh_1</ToUserName><FromUserName>oUser1</FromUserName>"
           f"<CreateTime>{TS}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>")
    incoming = protocol().open_message(plain_args(), xml.encode())
    assert incoming.event == "subscribe"
    assert dedup_key(incoming.fields) == f"evt:oUser1:{TS}:subscribe"


def test_voice_with_recognition_is_readable() -> None:
    xml = ("<xml><ToUserName>gh_1</ToUserName><FromUserName>oUser1</FromUserName>"
           f"<CreateTime>{TS}</CreateTime><MsgType>voice</MsgType><MediaId>m</MediaId>"
           "<Format>amr</Format><Recognition><![CDATA[审批有没有绿色通道]]></Recognition>"
           "<MsgId>42</MsgId></xml>")
    incoming = protocol().open_message(plain_args(), xml.encode())
    assert incoming.msg_type == "voice" and incoming.message.recognition == "审批有没有绿色通道"


def test_plain_reply_is_wechat_text_reply_xml() -> None:
    incoming = protocol().open_message(plain_args(), text_xml().encode())
    reply = protocol().reply_xml(incoming, "您好]]>")
    fields = {c.tag: c.text for c in ET.fromstring(reply)}
    assert fields["MsgType"] == "text" and fields["ToUserName"] == "oUser_abc-123"
    assert fields["Content"].startswith("您好")


# -- replies: every value escaped, sent as the account ----------------------------------------
HOSTILE_TO = ("gh_x]]&gt;&lt;/FromUserName&gt;&lt;FromUserName&gt;&lt;![CDATA[gh_attacker]]&gt;"
              "&lt;/FromUserName&gt;")


def hostile_xml(to_user: str = HOSTILE_TO) -> str:
    return text_xml().replace("<ToUserName><![CDATA[gh_123456789abc]]></ToUserName>",
                              f"<ToUserName>{to_user}</ToUserName>")


def test_a_to_user_name_that_is_not_an_account_id_is_refused() -> None:
    for to_user in (HOSTILE_TO, "gh 1", "gh_1&lt;x&gt;", "x" * 65):
        err = rejected(protocol().open_message, plain_args(), hostile_xml(to_user).encode())
        assert err.status == 400 and "ToUserName" in err.reason


def test_with_a_configured_account_other_accounts_messages_are_refused_and_replies_sent_as_it(
) -> None:
    p = WeChatProtocol(settings(), clock=lambda: NOW, account_id="gh_123456789abc")
    err = rejected(p.open_message, plain_args(), hostile_xml("gh_someoneelse").encode())
    assert err.status == 400 and "another account" in err.reason
    incoming = p.open_message(plain_args(), text_xml().encode())
    fields = {c.tag: c.text for c in ET.fromstring(p.reply_xml(incoming, "您好"))}
    assert fields["FromUserName"] == "gh_123456789abc"
    with pytest.raises(ValueError, match="original id"):
        WeChatProtocol(settings(), account_id="gh_1]]>")


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "safe-mode"])
def test_reply_content_cannot_break_out_of_its_element(encrypted: bool) -> None:
    p = protocol()
    if encrypted:
        args, body = encrypted_request(text_xml())
    else:
        args, body = plain_args(), text_xml().encode()
    incoming = p.open_message(args, body)
    content = ('问]]></Content><FromUserName>gh_attacker</FromUserName><Content><![CDATA[x'
               ' & <a href="weixin://bizmsgmenu?msgmenucontent=是&msgmenuid=1">是</a>\x00\x0b')
    reply = p.reply_xml(incoming, content)
    if encrypted:
        outer = {c.tag: c.text for c in ET.fromstring(reply)}
        reply = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
            {"Encrypt": outer["Encrypt"]}, outer["MsgSignature"], outer["TimeStamp"],
            outer["Nonce"])
    root = ET.fromstring(reply)
    assert [c.tag for c in root] == ["ToUserName", "FromUserName", "CreateTime", "MsgType",
                                     "Content"]
    fields = {c.tag: c.text for c in root}
    assert fields["FromUserName"] == "gh_123456789abc" and fields["ToUserName"] == "oUser_abc-123"
    assert fields["Content"] == content.replace("\x00", "").replace("\x0b", "")
    assert "<![CDATA[" not in reply or encrypted
