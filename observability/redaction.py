"""Secrets out of every log line: tokens in query strings, Authorization and token headers,
passwords in connection URLs, and the literal values of the secrets a process was given.

Standard library only, so that both runtimes use it: the supervisor, the console and the
action server (Python 3.11) and the Rasa server (Python 3.10, through
`assistant.rasa_launcher`) each call `install()` once at start.

Why at record creation rather than as a handler filter: Rasa, Sanic, uvicorn and rasa-sdk each
configure their own handlers, some after start-up, and a filter on a logger does not see what
its children propagate. `install()` wraps `logging.Logger.makeRecord` (the documented override
point for records) so that every record any logger creates is redacted before any handler or
formatter sees it, extras included. `RedactingFilter` does the same for a handler that should
redact records made elsewhere (e.g. a log server).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Environment variables whose values are secrets: their literal values are redacted wherever
# they appear, whatever the surrounding text.
SECRET_VARIABLES = (
    "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "REST_OUTBOX_SECRET", "POSTGRES_PASSWORD",
    "CONSOLE_PASSWORD", "CONSOLE_ADMIN_PASSWORD", "WECHAT_TOKEN", "WECHAT_SECRET",
    "WECHAT_AES_KEY",
)
MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words

_PATTERNS = [
    # ?token=..., &access_token=..., ?secret=... (WeChat's token API), ?password=...
    (re.compile(r"(?i)([?&;](?:[a-z_]*token|[a-z_]*secret|password|passwd|api_?key)=)"
                r"[^&\s\"'#;<>]+"), r"\1" + REDACTED),
    # Authorization: Bearer ..., 'Authorization': 'Basic ...', authorization=...
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(bearer|basic|token|jwt)\s+)?"
                r"[^\s\"',;}]+"),
     lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{REDACTED}"),
    # X-Action-Token: ..., X-Api-Key: ... (any X- header naming a token, secret or key)
    (re.compile(r"(?i)(x-[a-z0-9-]*(?:token|secret|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"),
     r"\1" + REDACTED),
    # scheme://user:password@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@\"']+:)[^@\s/\"']+(@)", re.I),
     r"\1" + REDACTED + r"\2"),
]

_secrets: set[str] = set()


def add_secrets(values: Iterable[str]) -> None:
    """Literal values to redact from now on (too short ones are ignored)."""
    _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def secrets_from_env(env: Mapping[str, str] = os.environ) -> list[str]:
    return [env[name] for name in SECRET_VARIABLES if env.get(name)]


def redact(text: str) -> str:
    """`text` with every secret replaced by "[redacted]" (idempotent)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_value(value: Any) -> Any:
    """The value itself when nothing in it is secret (so that %d and friends still work),
    else its redacted text."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    text = value if isinstance(value, str) else _safe_str(value)
    clean = redact(text)
    return value if clean == text else clean


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break logging
        return ""


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message",
                                                                              "asctime"}


def redact_record(record: logging.LogRecord) -> None:
    """Redacts a record in place: message, arguments, exception text and extras."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    else:
        record.msg = _redacted_value(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redacted_value(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _redacted_value(v) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact(text)
        if clean != text:
            record.exc_text = clean
    for key, value in list(vars(record).items()):
        if key not in _STANDARD and isinstance(value, str):
            clean = redact(value)
            if clean != value:
                setattr(record, key, clean)


class RedactingFilter(logging.Filter):
    """A handler or logger filter that redacts each record it passes (and drops none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install(secrets: Iterable[str] = (), env: Mapping[str, str] = os.environ) -> None:
    """Redacts every record every logger of this process creates from now on, and the
    values of the secret variables in `env` (SECRET_VARIABLES) and `secrets`. Idempotent."""
    add_secrets(secrets_from_env(env))
    add_secrets(secrets)
    make_record = logging.Logger.makeRecord
    if getattr(make_record, "redacting", False):
        return

    def redacting_make_record(self: logging.Logger, *args: Any, **kwargs: Any
                              ) -> logging.LogRecord:
        record = make_record(self, *args, **kwargs)
        redact_record(record)
        return record

    redacting_make_record.redacting = True  # type: ignore[attr-defined]
    logging.Logger.makeRecord = redacting_make_record  # type: ignore[method-assign]
