"""What a user types reaches the assistant as text, never as a command to Rasa.

Rasa reads a message that starts with "/" as an intent with entities (`/restart`,
`/session_start`, `/affirm`, `/inform{"slot": ...}`): a user who typed one could end a staff
takeover, start a new session or claim what the NLU never understood. Rasa looks after the
NLU tokenizer has normalised the text (NFKC and lower case, `knowledge.language`), so the
full-width "／" a Chinese input method types and `/RESTART` are the same command.

`neutralise` replaces such a leading slash with U+2215 DIVISION SLASH, which looks the same
to staff reading the conversation, survives the normalisation, and is only text to Rasa. No
button the assistant offers sends a payload starting with "/" (domain.yml's buttons and the
actions' choices send their words; a unit test keeps domain.yml so), so buttons are unchanged.

Standard library and `knowledge.language` only: both runtimes import it.
"""

from __future__ import annotations

from functools import cache

from knowledge.language.normalizer import TextNormalizer

COMMAND_PREFIX = "/"  # rasa.shared.constants.INTENT_MESSAGE_PREFIX
NEUTRAL_SLASH = "\u2215"  # DIVISION SLASH: looks like "/", NFKC keeps it


@cache
def _normalizer() -> TextNormalizer:
    return TextNormalizer()


def is_command(text: str) -> bool:
    """Whether Rasa would read `text` as a command, as typed or after the NLU's normalisation."""
    return text.strip().startswith(COMMAND_PREFIX) or _normalizer().query_text(text).startswith(
        COMMAND_PREFIX
    )


def neutralise(text: str) -> str:
    """`text`, with a leading slash that would make it a command replaced by one that does
    not (leading blanks dropped); any other text unchanged."""
    if not is_command(text):
        return text
    return NEUTRAL_SLASH + text.lstrip()[1:]
