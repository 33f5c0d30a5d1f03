"""In the scaled profile every process that talks to WeChat shares its state in Redis: the Rasa
instances claim messages there, and they and the console keep one access token there."""

from __future__ import annotations

from pathlib import Path
from tempfile import mkdtemp

from assistant.channels.wechat_config import WeChatSettings
from assistant.channels.wechat_token_cache import LocalTokenCache, RedisTokenCache, token_cache
from assistant.scaleout.deployment import build_deployment
from assistant.settings import EMBEDDED, SCALED, RuntimeSettings


def _wechat_processes(profile: str) -> dict[str, str | None]:
    # Never the checkout's var/ (issue 26, finding 13): building writes nothing, but keep it so.
    settings = RuntimeSettings().model_copy(update={"profile": profile,
                                                    "var_dir": Path(mkdtemp()) / "var"})
    deployment = build_deployment(settings, Path("models/any.tar.gz"))
    return {p.name: p.env.get("WECHAT_DEDUP_REDIS") for p in deployment
            if p.name.startswith(("rasa server", "staff console"))}


def test_scaled_rasa_instances_and_console_share_one_redis() -> None:
    urls = _wechat_processes(SCALED)
    assert {"rasa server 1", "rasa server 2", "staff console"} <= set(urls)
    assert len(set(urls.values())) == 1
    assert next(iter(urls.values())).startswith("redis://")


def test_embedded_processes_keep_wechat_state_to_themselves() -> None:
    assert not any(_wechat_processes(EMBEDDED).values())  # unset or empty: per process


def test_the_console_reads_the_shared_redis_and_builds_a_shared_token_cache() -> None:
    wechat = WeChatSettings.from_env({"WECHAT_APPID": "wx1", "WECHAT_SECRET": "s",
                                      "WECHAT_DEDUP_REDIS": "redis://127.0.0.1:6379/1"})
    assert wechat.dedup_redis_url == "redis://127.0.0.1:6379/1"
    assert isinstance(token_cache(wechat.dedup_redis_url, wechat.app_id), RedisTokenCache)
    assert isinstance(token_cache("", "wx1"), LocalTokenCache)
