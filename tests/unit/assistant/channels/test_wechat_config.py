"""WeChat channel settings: from credentials.yml, every value from the environment."""

from __future__ import annotations

import base64
import re

import pytest
import yaml

from assistant.channels.wechat_config import (
    ENV_VARS,
    WeChatConfigError,
    WeChatSettings,
    env_defaults,
)
from tests.conftest import PROJECT_ROOT

ROOT = PROJECT_ROOT
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]
SECTION = "assistant.channels.wechat.WeChatInput"


def test_credentials_section_takes_every_variable_unquoted() -> None:
    text = (ROOT / "credentials.yml").read_text(encoding="utf-8")
    section = yaml.safe_load(text)[SECTION]
    referenced = {m.group(1) for v in section.values()
                  for m in [re.fullmatch(r"\$\{(\w+)\}", str(v))] if m}
    assert referenced == set(ENV_VARS)
    for name in ENV_VARS:  # Rasa substitutes only in unquoted values
        assert re.search(rf"^\s+\w+: \$\{{{name}\}}\s*$", text, re.MULTILINE), name


def test_env_defaults_fill_only_unset_variables() -> None:
    assert env_defaults({"WECHAT_TOKEN": "t"}) == {n: "" for n in ENV_VARS if n != "WECHAT_TOKEN"}
    assert env_defaults(dict.fromkeys(ENV_VARS, "x")) == {}


def test_empty_values_mean_defaults_and_an_empty_token_switches_the_channel_off() -> None:
    s = WeChatSettings.from_credentials(
        {"token": "", "app_id": "", "encoding_aes_key": "", "app_secret": "", "api_base": "",
         "mode": "", "reply_budget_seconds": "", "max_body_bytes": 65536})
    assert not s.enabled and s.mode == "plain" and not s.can_push
    assert s.api_base == "https://api.weixin.qq.com" and s.reply_budget_seconds == 4.0
    assert WeChatSettings.from_credentials(None) == WeChatSettings()


def test_full_configuration() -> None:
    s = WeChatSettings.from_credentials(
        {"token": "tok", "app_id": "wx1", "encoding_aes_key": AES_KEY, "app_secret": "S3CR3T-value",
         "api_base": "http://127.0.0.1:8080/", "reply_budget_seconds": "0",
         "max_timestamp_age_seconds": 300})
    assert s.enabled and s.mode == "safe" and s.can_push
    assert s.accepts_encrypted and not s.accepts_plaintext
    assert s.api_base == "http://127.0.0.1:8080" and s.reply_budget_seconds == 0
    assert "S3CR3T" not in str(s.describe()) and "tok" not in str(s.describe())
    shared = WeChatSettings.from_credentials({"token": "t",
                                              "dedup_redis_url": "redis://127.0.0.1:6379/1"})
    assert shared.dedup_redis_url == "redis://127.0.0.1:6379/1"


@pytest.mark.parametrize(
    "creds",
    [
        {"token": "t", "encoding_aes_key": "short"},
        {"token": "t", "encoding_aes_key": "!" * 43},
        {"token": "t", "mode": "safe"},  # safe mode without a key
        {"token": "t", "encoding_aes_key": AES_KEY},  # safe mode without an AppID
        {"token": "t", "mode": "weird"},
        {"token": "t", "reply_budget_seconds": "soon"},
        {"token": "t", "reply_budget_seconds": "-1"},
        {"token": "t", "api_base": "ftp://x"},
        {"token": "t", "dedup_redis_url": "127.0.0.1:6379"},
    ],
)
def test_bad_configuration_is_refused_at_start(creds) -> None:
    with pytest.raises(WeChatConfigError):
        WeChatSettings.from_credentials(creds)
