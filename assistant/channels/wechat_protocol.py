"""WeChat's server protocol: signatures, encryption and message XML, all through wechatpy.

Framework-free (no Rasa, no Sanic) so that it can be tested on its own:
- `verify_url`: the GET that WeChat sends when the URL is saved in its console.
- `open_message`: a POSTed message -> `Incoming` (signature checked, timestamp fresh, body
  decrypted in safe mode, in plaintext mode a signature good for one body only
  (`wechat_replay`), XML parsed with DTDs and entities forbidden); otherwise `Rejected`
  carrying the HTTP status (403: not from WeChat, too old or replayed; 400: unreadable; 413:
  too big).
- `reply_xml`: a passive text reply, encrypted when the request was. It is built with
  ElementTree, which escapes every value (wechatpy's reply classes paste values into CDATA
  sections by string formatting, so a `]]>` in a field would end the section); its sender is
  the configured account id (`WECHAT_ACCOUNT_ID`, the 原始ID gh_…), and a message addressed to
  another account is refused. Without a configured id, the ToUserName WeChat sent is used,
  which must then look like an account id (letters, digits, `_`, `-`).

Signatures are computed by wechatpy's signer and compared in constant time; AES (safe mode,
EncodingAESKey) is wechatpy's `WeChatCrypto`, which also checks the AppID inside the message.
"""

from __future__ import annotations

import hmac
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import defusedxml.ElementTree as DET
import wechatpy
from defusedxml import DefusedXmlException
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from assistant.channels.wechat_config import WeChatConfigError, WeChatSettings
from assistant.channels.wechat_replay import ReplayLedger

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_TIMESTAMP = re.compile(r"\d{1,12}")
_NONCE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_ECHOSTR = re.compile(r"[0-9A-Za-z_+/=.-]{1,256}")
_OPENID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_ACCOUNT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # the 原始ID, gh_ and 12 hex digits
# Characters XML 1.0 cannot carry (C0 controls but tab and newlines, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
MAX_FIELD_CHARS = 20_000


class Rejected(Exception):
    """A request that must not be processed; `status` is the HTTP answer, `reason` for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Incoming:
    message: Any  # a wechatpy message or event object
    fields: dict[str, str]  # the top-level XML fields, as WeChat sent them
    encrypted: bool
    nonce: str

    @property
    def openid(self) -> str:
        return self.fields["FromUserName"]

    @property
    def msg_type(self) -> str:
        return self.fields["MsgType"].lower()

    @property
    def event(self) -> str:
        return self.fields.get("Event", "").lower()


def signature_of(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def parse_xml_fields(text: str) -> dict[str, str]:
    """The <xml> root's child elements as strings; DTDs, entities and odd shapes refused."""
    try:
        root = DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Rejected(400, f"hostile XML refused ({type(exc).__name__})") from exc
    except (ET.ParseError, ValueError) as exc:
        raise Rejected(400, "malformed XML") from exc
    if root.tag != "xml":
        raise Rejected(400, f"unexpected XML root <{root.tag[:40]}>")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise Rejected(400, f"repeated XML field {child.tag[:40]}")
        text_value = (child.text or "").strip()
        if len(child):  # nested (e.g. ScanCodeInfo): keep the name, not the structure
            text_value = ""
        if len(text_value) > MAX_FIELD_CHARS:
            raise Rejected(400, f"XML field {child.tag[:40]} too long")
        fields[child.tag] = text_value
    return fields


def xml_text(value: str) -> str:
    """`value` without the characters an XML document cannot hold (ElementTree escapes the
    rest but would write these as they are, giving WeChat an unreadable reply)."""
    return _NOT_XML.sub("", value)


def build_xml(fields: list[tuple[str, str]]) -> str:
    """<xml><Name>value</Name>...</xml>, every value escaped by ElementTree."""
    root = ET.Element("xml")
    for name, value in fields:
        ET.SubElement(root, name).text = xml_text(value)
    return ET.tostring(root, encoding="unicode")


class WeChatProtocol:
    def __init__(self, settings: WeChatSettings, clock: Callable[[], float] = time.time,
                 account_id: str = "", replays: ReplayLedger | None = None) -> None:
        if account_id and not _ACCOUNT_ID.fullmatch(account_id):
            raise WeChatConfigError(f"wechat: the account id must be the original id (gh_...),"
                                    f" got {account_id!r}")
        self.settings = settings
        self.account_id = account_id
        self._clock = clock
        self._replays = replays  # plaintext signatures already used, and for which body
        self._crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key else None
        )

    # -- authentication -------------------------------------------------------------------
    def _check_fresh(self, timestamp: str) -> None:
        age = abs(self._clock() - int(timestamp))
        if age > self.settings.max_timestamp_age_seconds:
            raise Rejected(403, f"stale timestamp ({age:.0f}s old)")

    def _check_signature(self, given: str | None, *parts: str, name: str = "signature") -> None:
        if not given or not _HEX40.fullmatch(given):
            raise Rejected(403, f"missing or malformed {name}")
        expected = signature_of(self.settings.token, *parts)
        if not hmac.compare_digest(expected, given.lower()):
            raise Rejected(403, f"wrong {name}")

    def _auth_params(self, args: Mapping[str, str | None]) -> tuple[str, str]:
        timestamp, nonce = args.get("timestamp") or "", args.get("nonce") or ""
        if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
            raise Rejected(403, "missing or malformed timestamp/nonce")
        return timestamp, nonce

    def verify_url(self, args: Mapping[str, str | None]) -> str:
        """URL check: signature = sha1(sort(token, timestamp, nonce)); answer with echostr."""
        timestamp, nonce = self._auth_params(args)
        self._check_signature(args.get("signature"), timestamp, nonce)
        self._check_fresh(timestamp)
        echostr = args.get("echostr") or ""
        if not _ECHOSTR.fullmatch(echostr):
            raise Rejected(400, "missing or malformed echostr")
        return echostr

    # -- messages ---------------------------------------------------------------------------
    def open_message(self, args: Mapping[str, str | None], body: bytes) -> Incoming:
        if len(body) > self.settings.max_body_bytes:
            raise Rejected(413, f"body of {len(body)} bytes over the limit")
        timestamp, nonce = self._auth_params(args)
        encrypted = (args.get("encrypt_type") or "raw").lower() == "aes"
        if encrypted and not self.settings.accepts_encrypted:
            raise Rejected(400, "encrypted message but the channel is in plaintext mode")
        if not encrypted and not self.settings.accepts_plaintext:
            raise Rejected(400, "plaintext message but the channel is in safe mode")
        if not encrypted or args.get("signature"):
            # Safe mode sends the plain signature too; check it whenever it is there.
            self._check_signature(args.get("signature"), timestamp, nonce)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(400, "body is not UTF-8") from exc
        outer = parse_xml_fields(text)
        if encrypted:
            cipher_text = outer.get("Encrypt", "")
            if not cipher_text:
                raise Rejected(400, "encrypted message without <Encrypt>")
            self._check_signature(args.get("msg_signature"), timestamp, nonce, cipher_text,
                                  name="msg_signature")
            self._check_fresh(timestamp)
            text = self._decrypt(cipher_text, args.get("msg_signature") or "", timestamp, nonce)
            fields = parse_xml_fields(text)
        else:
            self._check_fresh(timestamp)
            # The plaintext signature does not cover the body: one body per signature.
            if self._replays is not None and not self._replays.admit(timestamp, nonce, body):
                raise Rejected(403, "signature already used for another body (replay)")
            fields = outer
        for name in REQUIRED_FIELDS:
            if not fields.get(name):
                raise Rejected(400, f"message without {name}")
        if not _OPENID.fullmatch(fields["FromUserName"]):
            raise Rejected(400, "malformed FromUserName")
        if not _ACCOUNT_ID.fullmatch(fields["ToUserName"]):
            raise Rejected(400, "malformed ToUserName")
        if self.account_id and fields["ToUserName"] != self.account_id:
            raise Rejected(400, f"message for another account ({fields['ToUserName']})")
        if not fields["CreateTime"].isdigit() or not (fields.get("MsgId") or "0").isdigit():
            raise Rejected(400, "malformed CreateTime/MsgId")
        try:
            message = wechatpy.parse_message(text)
        except (KeyError, TypeError, ValueError, AttributeError, ET.ParseError) as exc:
            raise Rejected(400, f"unreadable message ({type(exc).__name__})") from exc
        return Incoming(message=message, fields=fields, encrypted=encrypted, nonce=nonce)

    def _decrypt(self, cipher_text: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        assert self._crypto is not None
        try:
            return self._crypto.decrypt_message(
                {"Encrypt": cipher_text}, msg_signature, timestamp, nonce)
        except Exception as exc:  # wrong key/AppID, bad base64 or padding: all "unreadable"
            raise Rejected(400, f"undecryptable body ({type(exc).__name__})") from exc

    # -- replies ----------------------------------------------------------------------------
    def reply_xml(self, incoming: Incoming, text: str) -> str:
        """A passive text reply from the account to the user, encrypted if the request was."""
        created = str(int(self._clock()))
        xml = build_xml([
            ("ToUserName", incoming.openid),
            ("FromUserName", self.account_id or incoming.fields["ToUserName"]),
            ("CreateTime", created),
            ("MsgType", "text"),
            ("Content", text),
        ])
        if not incoming.encrypted:
            return xml
        assert self._crypto is not None
        # wechatpy encrypts and signs; its envelope is parsed back and rebuilt like the rest.
        sealed = parse_xml_fields(self._crypto.encrypt_message(xml, incoming.nonce, created))
        return build_xml([(name, sealed[name])
                          for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")])
