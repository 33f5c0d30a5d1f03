"""A user's text is never a command to Rasa (issue 26, finding 2)."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from assistant.channels.user_text import NEUTRAL_SLASH, is_command, neutralise

DOMAIN = Path(__file__).resolve().parents[4] / "domain.yml"
# Every character NFKC turns into a slash, the ASCII one and the full-width one included.
SLASHES = [
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if not 0xD800 <= ord(c) <= 0xDFFF and unicodedata.normalize("NFKC", c) == "/"
]


@pytest.mark.parametrize("slash", SLASHES)
@pytest.mark.parametrize(
    "command",
    ["restart", "RESTART", "session_start", 'inform_enterprise{"industry": "钢铁"}', "/restart"],
)
def test_every_slash_rasa_would_read_as_a_command_is_neutralised(slash: str, command: str) -> None:
    for typed in (f"{slash}{command}", f"  {slash}{command}", f"\u3000{slash}{command}\n"):
        assert is_command(typed)
        text = neutralise(typed)
        assert not is_command(text), (typed, text)
        assert text == NEUTRAL_SLASH + typed.lstrip()[1:]  # what staff read: what was typed


def test_other_text_is_unchanged() -> None:
    for text in ("审批有没有绿色通道？", "1/2 的企业", "国家重点项目", "", " 是 ", "∕restart"):
        assert neutralise(text) == text


def test_no_button_sends_a_payload_the_channels_would_neutralise() -> None:
    responses = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]
    payloads = [
        b["payload"]
        for variants in responses.values()
        for v in variants
        for b in v.get("buttons") or []
    ]
    assert payloads and not [p for p in payloads if is_command(p)]
