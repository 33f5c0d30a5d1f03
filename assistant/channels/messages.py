"""The texts the channels say themselves, read from messages.yml beside this module.

Kept as data beside domain.yml's responses so that staff edit every user-facing sentence in a
data file; a missing or unknown key stops the start with the file's name, not a KeyError
in the middle of a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from string import Formatter

import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")
# Texts filled in with str.format: exactly these fields, checked at start.
TEMPLATE_FIELDS = {
    "wechat_earlier_answer": {"question", "answer"},
    "wechat_more_waiting": {"count"},
    "message_too_long": {"limit"},
}


@dataclass(frozen=True)
class ChannelMessages:
    empty_message: str
    no_reply: str
    message_too_long: str
    rate_limited: str
    human_has_taken_over: str
    wechat_welcome: str
    wechat_text_only: str
    wechat_voice_not_recognised: str
    wechat_still_working: str
    wechat_continue_word: str
    wechat_earlier_answer: str
    wechat_more_waiting: str
    wechat_too_long: str
    rest_not_json_object: str
    rest_sender_missing: str
    rest_sender_invalid: str
    rest_message_not_text: str
    rest_field_invalid: str
    rest_bad_characters: str
    rest_channel_not_allowed: str
    rest_sender_taken: str
    rest_outbox_token_missing: str
    rest_outbox_token_wrong: str
    rest_outbox_after_invalid: str
    rest_outbox_sender_missing: str
    rest_body_too_large: str
    rest_metadata_too_large: str

    @classmethod
    def load(cls, path: Path = MESSAGES_FILE) -> ChannelMessages:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        expected = {f.name for f in fields(cls)}
        missing, unknown = expected - set(data), set(data) - expected
        if missing or unknown or not all(isinstance(v, str) and v.strip() for v in data.values()):
            raise ValueError(f"{path}: missing {sorted(missing)}, unknown {sorted(unknown)},"
                             " or an empty text")
        for key, wanted in TEMPLATE_FIELDS.items():
            found = {name for _, name, _, _ in Formatter().parse(str(data[key])) if name}
            if found != wanted:
                raise ValueError(f"{path}: {key} must use the fields {sorted(wanted)},"
                                 f" not {sorted(found)}")
        return cls(**{k: str(v).strip() for k, v in data.items()})


MESSAGES = ChannelMessages.load()
