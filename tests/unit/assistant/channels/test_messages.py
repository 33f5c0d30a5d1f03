"""The channels' own texts are data: every one present, none unknown, none empty."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.channels.messages import MESSAGES_FILE, ChannelMessages


def test_shipped_messages_load_and_fit_a_phone_screen() -> None:
    messages = ChannelMessages.load()
    for name, text in vars(messages).items():
        assert text.strip() and len(text) <= 200, name
    assert "转人工" in messages.wechat_welcome


@pytest.mark.parametrize("change", ["drop", "extra", "empty"])
def test_a_broken_file_stops_the_start_naming_it(tmp_path: Path, change: str) -> None:
    data = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))
    if change == "drop":
        data.pop("no_reply")
    elif change == "extra":
        data["typo_key"] = "你好"
    else:
        data["no_reply"] = " "
    path = tmp_path / "messages.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"messages\.yml"):
        ChannelMessages.load(path)


def test_a_template_without_its_fields_stops_the_start(tmp_path: Path) -> None:
    data = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))
    data["wechat_more_waiting"] = "还有几条回答"  # {count} lost in an edit
    path = tmp_path / "messages.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"wechat_more_waiting.*count"):
        ChannelMessages.load(path)
