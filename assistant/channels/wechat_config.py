"""Settings of the WeChat channel, defined once for the channel (inside Rasa) and the console.

Both read the same WECHAT_* environment variables through `WeChatSettings.from_env`; the
channel's `credentials.yml` section adds only tunables that are not secrets. Nothing in
credentials.yml names a variable, so Rasa (which refuses to start on an unset `${VAR}`) runs
with or without them, `make shell` included.

Standard library only: the channel runs in the Rasa runtime, whose pydantic (1.10, pinned by
Rasa 3.6) has none of pydantic-settings, and the supervisor and console import this too.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The variables WeChat settings are read from: variable -> (setting, what an empty value means).
ENV_VARS: dict[str, tuple[str, str]] = {
    "WECHAT_TOKEN": ("token", "Token entered in the WeChat admin console; empty: channel off"
                              " (503)"),
    "WECHAT_APPID": ("app_id", "AppID of the Official Account (safe mode and the API)"),
    "WECHAT_AES_KEY": ("encoding_aes_key", "EncodingAESKey (43 characters); empty: plaintext"
                                           " mode only"),
    "WECHAT_SECRET": ("app_secret", "AppSecret; empty: no customer-service API, passive"
                                    " replies only"),
    "WECHAT_ACCOUNT_ID": ("account_id", "the account's original id (原始ID, gh_...), sender of"
                                        " every passive reply; empty: each message's ToUserName"
                                        " if it looks like one"),
    "WECHAT_API_BASE": ("api_base", "WeChat API base URL; empty: https://api.weixin.qq.com"),
    "WECHAT_MODE": ("mode", "plain | compatible | safe; empty: safe when an AES key is set,"
                            " else plain"),
    "WECHAT_REPLY_BUDGET": ("reply_budget_seconds", "seconds to wait for a passive reply;"
                                                    " empty: 4.0 (0: always async)"),
    "WECHAT_DEDUP_REDIS": ("dedup_redis_url", "redis://host:port/db shared by every instance:"
                                              " each message claimed once, one access token"
                                              " for all; empty: per process"),
}
SECRET_SETTINGS = ("token", "encoding_aes_key", "app_secret")  # never in credentials.yml

DEFAULT_API_BASE = "https://api.weixin.qq.com"
MODES = ("plain", "compatible", "safe")


class WeChatConfigError(ValueError):
    pass


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(credentials: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
    raw = _text(credentials.get(key))
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise WeChatConfigError(f"wechat: {key} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise WeChatConfigError(f"wechat: {key} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class WeChatSettings:
    token: str = ""
    app_id: str = ""
    encoding_aes_key: str = ""
    app_secret: str = ""
    account_id: str = ""  # 原始ID (gh_...): not a secret
    api_base: str = DEFAULT_API_BASE
    mode: str = "plain"
    # WeChat waits 5 s for a passive reply, then retries; stay well under it.
    reply_budget_seconds: float = 4.0
    max_timestamp_age_seconds: float = 300.0
    max_body_bytes: int = 64 * 1024
    # WeChat retries three times within about 15 s; remember message ids much longer.
    dedup_ttl_seconds: float = 600.0
    dedup_max_entries: int = 20_000
    # Several Rasa instances: claims in Redis, so that a retry landing on another instance is
    # not answered twice (the scaled profile sets it).
    dedup_redis_url: str = ""
    # Text in a passive reply or a customer-service message: 2048 bytes is WeChat's bound.
    max_reply_bytes: int = 2000
    api_timeout_seconds: float = 5.0
    welcome_text: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def accepts_plaintext(self) -> bool:
        return self.mode in ("plain", "compatible")

    @property
    def accepts_encrypted(self) -> bool:
        return self.mode in ("compatible", "safe")

    @property
    def can_push(self) -> bool:
        """Whether answers can be delivered later through the customer-service message API."""
        return bool(self.app_id and self.app_secret)

    def describe(self) -> dict[str, Any]:
        """What the health endpoint and the start-up log show: no secrets."""
        return {
            "enabled": self.enabled, "mode": self.mode, "app_id": self.app_id or None,
            "customer_service_api": self.can_push, "api_base": self.api_base,
            "reply_budget_seconds": self.reply_budget_seconds,
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 credentials: Mapping[str, Any] | None = None) -> WeChatSettings:
        """The WECHAT_* variables, then the channel's non-empty credentials.yml values."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {key: env[name] for name, (key, _) in ENV_VARS.items()
                                  if name in env}
        for key, value in (credentials or {}).items():
            if key in SECRET_SETTINGS and _text(value):
                raise WeChatConfigError(f"wechat: {key} belongs in the environment"
                                        f" ({_variable(key)}), not in credentials.yml")
            if _text(value):
                values[key] = value
        return cls.from_credentials(values)

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> WeChatSettings:
        """Validated settings from raw values (empty = default); bad ones refuse the start."""
        creds: Mapping[str, Any] = credentials or {}
        d = cls()
        aes_key = _text(creds.get("encoding_aes_key"))
        if aes_key:
            _check_aes_key(aes_key)
        mode = _text(creds.get("mode")).lower() or ("safe" if aes_key else "plain")
        if mode not in MODES:
            raise WeChatConfigError(f"wechat: mode must be one of {MODES}, got {mode!r}")
        app_id = _text(creds.get("app_id"))
        if mode != "plain" and not aes_key:
            raise WeChatConfigError(f"wechat: mode {mode} needs encoding_aes_key")
        if mode != "plain" and not app_id:
            raise WeChatConfigError(f"wechat: mode {mode} needs app_id (WECHAT_APPID)")
        api_base = (_text(creds.get("api_base")) or d.api_base).rstrip("/")
        if not api_base.startswith(("https://", "http://")):
            raise WeChatConfigError(f"wechat: api_base must be an http(s) URL, got {api_base!r}")
        dedup_redis_url = _text(creds.get("dedup_redis_url"))
        if dedup_redis_url and not dedup_redis_url.startswith(("redis://", "rediss://")):
            raise WeChatConfigError(
                f"wechat: dedup_redis_url must be a redis:// URL, got {dedup_redis_url!r}")
        return cls(
            token=_text(creds.get("token")),
            app_id=app_id,
            encoding_aes_key=aes_key,
            app_secret=_text(creds.get("app_secret")),
            account_id=_text(creds.get("account_id")),
            api_base=api_base,
            mode=mode,
            reply_budget_seconds=_number(creds, "reply_budget_seconds", d.reply_budget_seconds, 0),
            max_timestamp_age_seconds=_number(
                creds, "max_timestamp_age_seconds", d.max_timestamp_age_seconds, 1),
            max_body_bytes=int(_number(creds, "max_body_bytes", d.max_body_bytes, 512)),
            dedup_ttl_seconds=_number(creds, "dedup_ttl_seconds", d.dedup_ttl_seconds, 30),
            dedup_max_entries=int(_number(creds, "dedup_max_entries", d.dedup_max_entries, 100)),
            dedup_redis_url=dedup_redis_url,
            max_reply_bytes=int(_number(creds, "max_reply_bytes", d.max_reply_bytes, 200)),
            api_timeout_seconds=_number(
                creds, "api_timeout_seconds", d.api_timeout_seconds, 0.1),
            welcome_text=_text(creds.get("welcome_text")),
        )


def _variable(key: str) -> str:
    return next(name for name, (k, _) in ENV_VARS.items() if k == key)


def _check_aes_key(key: str) -> None:
    """An EncodingAESKey is 43 base64 characters, a 32-byte AES key once padded with '='."""
    try:
        raw = base64.b64decode(key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WeChatConfigError("wechat: encoding_aes_key is not valid base64") from exc
    if len(key) != 43 or len(raw) != 32:
        raise WeChatConfigError("wechat: encoding_aes_key must be 43 characters (32 bytes)")
