"""The REST channel's protocol, free of Rasa and Sanic so that it can be tested on its own.

- `parse_webhook_body`: the POSTed body -> `RestMessage`, or `BadRequest` with the reason in
  Chinese (messages.yml) for anything that is not `{"sender": ..., "message": ...}`, or whose
  `metadata` is over `MAX_METADATA_BYTES` (413).
- `OutboxTokens`: the token that lets a client read the staff replies of its own conversation
  (`GET /webhooks/rest/outbox`): HMAC-SHA256 of the sender id under a server secret
  (`REST_OUTBOX_SECRET`, the same on every Rasa instance; generated per process when unset),
  returned with every reply in the `X-Outbox-Token` header and compared in constant time.
- `CorsPolicy`: which web origins may call the channel (`REST_CORS_ORIGINS`; empty: none),
  never with credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistant.channels.messages import MESSAGES
from conversation.channels import DELIVERING_CHANNELS, REST, is_reserved
from conversation.limits import MAX_METADATA_BYTES
from conversation.senders import is_valid_sender_id

log = logging.getLogger(__name__)

OUTBOX_TOKEN_HEADER = "X-Outbox-Token"
OUTBOX_SECRET_VARIABLE = "REST_OUTBOX_SECRET"
CORS_ORIGINS_VARIABLE = "REST_CORS_ORIGINS"
MAX_CHANNEL_CHARS = 64
MIN_SECRET_CHARS = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")


class BadRequest(Exception):
    """A request the channel refuses; `message` (Chinese) goes back to the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class RestMessage:
    sender: str
    text: str
    input_channel: str
    metadata: dict[str, Any] | None


def _bad(code: str, message: str, status: int = 400) -> BadRequest:
    return BadRequest(status, code, message)


def parse_webhook_body(raw: bytes) -> RestMessage:
    """A REST message, validated; BadRequest for anything else (the pipeline never sees it)."""
    try:
        data = json.loads(raw or b"")
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or absurdly nested
        raise _bad("not_json_object", MESSAGES.rest_not_json_object) from exc
    if not isinstance(data, dict):
        raise _bad("not_json_object", MESSAGES.rest_not_json_object)
    try:  # a lone surrogate (e.g. "\ud800") is valid JSON but no text: it cannot be stored
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _bad("bad_characters", MESSAGES.rest_bad_characters) from exc

    sender = data.get("sender")
    if sender is None or sender == "":
        raise _bad("sender_missing", MESSAGES.rest_sender_missing)
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)  # Rasa's RestInput always took numeric sender ids
    if not is_valid_sender_id(sender):  # one rule with the console: conversation.senders
        raise _bad("sender_invalid", MESSAGES.rest_sender_invalid)
    if is_reserved(sender):
        raise _bad("sender_taken", MESSAGES.rest_sender_taken, status=403)

    text = data.get("message")
    if text is None:
        text = ""  # answered like an empty message: a prompt to ask something
    if not isinstance(text, str):
        raise _bad("message_not_text", MESSAGES.rest_message_not_text)

    channel = data.get("input_channel")
    if channel in (None, ""):
        channel = REST
    if not isinstance(channel, str) or len(channel) > MAX_CHANNEL_CHARS or _CONTROL.search(
            channel):
        raise _bad("field_invalid", MESSAGES.rest_field_invalid)
    if channel.strip().lower() in DELIVERING_CHANNELS:
        raise _bad("channel_not_allowed", MESSAGES.rest_channel_not_allowed, status=403)

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("field_invalid", MESSAGES.rest_field_invalid)
    if metadata and len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8")) > MAX_METADATA_BYTES:  # stored with the message: a small object only
        raise _bad("metadata_too_large", MESSAGES.rest_metadata_too_large, status=413)
    return RestMessage(sender, text, channel, metadata)


class OutboxTokens:
    """`token(sender)`: what the client presents to read its conversation's outbox."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"{OUTBOX_SECRET_VARIABLE} must be at least {MIN_SECRET_CHARS}"
                             " characters")
        self._key = hmac.new(secret, b"assistant rest outbox v1", hashlib.sha256).digest()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OutboxTokens:
        env = os.environ if environ is None else environ
        secret = env.get(OUTBOX_SECRET_VARIABLE, "").strip()
        if secret:
            return cls(secret.encode("utf-8"))
        log.warning("rest: %s is not set; outbox tokens are valid on this process only (set the"
                    " same secret on every Rasa instance)", OUTBOX_SECRET_VARIABLE)
        return cls(secrets.token_hex(32).encode())

    def token(self, sender: str) -> str:
        return hmac.new(self._key, sender.encode("utf-8"), hashlib.sha256).hexdigest()

    def valid(self, sender: str, token: str | None) -> bool:
        if not token:
            return False
        given = token.strip().lower().encode("utf-8", "replace")
        return hmac.compare_digest(self.token(sender).encode(), given)


@dataclass(frozen=True)
class CorsPolicy:
    """Cross-origin access for browser clients of the REST channel: only the listed origins,
    no credentials (the channel uses none), the outbox token readable and sendable."""

    origins: frozenset[str] = frozenset()
    methods: str = "GET, POST, OPTIONS"
    allow_headers: str = f"Content-Type, {OUTBOX_TOKEN_HEADER}"
    max_age_seconds: int = 600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CorsPolicy:
        env = os.environ if environ is None else environ
        return cls.parse(env.get(CORS_ORIGINS_VARIABLE, ""))

    @classmethod
    def parse(cls, value: str) -> CorsPolicy:
        origins = [o.strip().rstrip("/") for o in re.split(r"[\s,]+", value or "") if o.strip()]
        bad = [o for o in origins if not _ORIGIN.fullmatch(o)]
        if bad:
            raise ValueError(f"{CORS_ORIGINS_VARIABLE}: not an origin (scheme://host[:port],"
                             f" no '*'): {bad}")
        return cls(frozenset(o.lower() for o in origins))

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and origin.strip().rstrip("/").lower() in self.origins

    def headers(self, origin: str | None, preflight: bool) -> dict[str, str]:
        """The Access-Control-* headers for a request from `origin` (none if not allowed)."""
        if not self.allows(origin):
            return {}
        assert origin is not None
        headers = {"Access-Control-Allow-Origin": origin.strip(),
                   "Access-Control-Expose-Headers": OUTBOX_TOKEN_HEADER}
        if preflight:
            headers.update({"Access-Control-Allow-Methods": self.methods,
                            "Access-Control-Allow-Headers": self.allow_headers,
                            "Access-Control-Max-Age": str(self.max_age_seconds)})
        return headers
