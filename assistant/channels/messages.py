"""The texts the channels say themselves, read from messages.yml beside this module.

Kept as data beside domain.yml's responses so that staff edit every user-facing sentence in a
data file; a missing or unknown key stops the start with the file's name, not a KeyError
in the middle of a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")


@dataclass(frozen=True)
class ChannelMessages:
    empty_message: str
    no_reply: str
    human_has_taken_over: str
    wechat_welcome: str
    wechat_text_only: str
    wechat_voice_not_recognised: str
    wechat_still_working: str
    wechat_too_long: str

    @classmethod
    def load(cls, path: Path = MESSAGES_FILE) -> ChannelMessages:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        expected = {f.name for f in fields(cls)}
        missing, unknown = expected - set(data), set(data) - expected
        if missing or unknown or not all(isinstance(v, str) and v.strip() for v in data.values()):
            raise ValueError(f"{path}: missing {sorted(missing)}, unknown {sorted(unknown)},"
                             " or an empty text")
        return cls(**{k: str(v).strip() for k, v in data.items()})


MESSAGES = ChannelMessages.load()
