"""WeChat channel settings: WECHAT_* from the environment, tunables from credentials.yml."""

from __future__ import annotations

import base64

import pytest
import yaml

from assistant.channels.wechat_config import (
    ENV_VARS,
    SECRET_SETTINGS,
    WeChatConfigError,
    WeChatSettings,
)
from tests.conftest import PROJECT_ROOT

ROOT = PROJECT_ROOT
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]
SECTION = "assistant.channels.wechat.WeChatInput"


def test_credentials_section_names_no_variable_and_no_secret() -> None:
    """Rasa refuses to start on an unset ${VAR}: nothing there may depend on the environment."""
    text = (ROOT / "credentials.yml").read_text(encoding="utf-8")
    assert "${" not in text
    section = yaml.safe_load(text)[SECTION] or {}
    assert not set(section) & set(SECRET_SETTINGS)
    WeChatSettings.from_env({}, credentials=section)  # the shipped tunables are valid


def test_every_variable_reaches_its_setting() -> None:
    values = {"WECHAT_TOKEN": "tok", "WECHAT_APPID": "wx1", "WECHAT_AES_KEY": AES_KEY,
              "WECHAT_SECRET": "sec", "WECHAT_API_BASE": "http://127.0.0.1:9/",
              "WECHAT_MODE": "compatible", "WECHAT_REPLY_BUDGET": "1.5",
              "WECHAT_DEDUP_REDIS": "redis://127.0.0.1:6379/1", "WECHAT_ACCOUNT_ID": "gh_1a2b"}
    assert set(values) == set(ENV_VARS)
    s = WeChatSettings.from_env(values)
    assert (s.token, s.app_id, s.encoding_aes_key, s.app_secret) == ("tok", "wx1", AES_KEY, "sec")
    assert (s.api_base, s.mode, s.reply_budget_seconds) == ("http://127.0.0.1:9", "compatible", 1.5)
    assert s.dedup_redis_url == "redis://127.0.0.1:6379/1" and s.account_id == "gh_1a2b"
    assert WeChatSettings.from_env({}) == WeChatSettings()


def test_credentials_tunables_apply_and_secrets_there_are_refused() -> None:
    s = WeChatSettings.from_env({"WECHAT_TOKEN": "t"}, credentials={"max_body_bytes": 4096})
    assert s.token == "t" and s.max_body_bytes == 4096
    with pytest.raises(WeChatConfigError, match="WECHAT_SECRET"):
        WeChatSettings.from_env({}, credentials={"app_secret": "in-the-file"})


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
