"""What a sender id may be, decided once for the channels and the console.

A sender id names a conversation everywhere: in the REST channel's body and outbox query, in
the tracker store, and in the path of Rasa's HTTP API, through which the console takes a
conversation over and stores staff replies (`/conversations/<sender id>/tracker/events`). An
HTTP client percent-encodes what a path may not hold, and Rasa matches its routes on the path
as sent, without decoding it: `张三` would reach Rasa as `%E5%BC%A0%E4%B8%89`, which is another
conversation, one anybody could open. So a sender id is made only of characters that every
part passes through unchanged: ASCII letters and digits, and `.` `_` `:` `@` `+` `~` `-` (not
first, so that no id is a path's `.` or `..`). That also keeps out every invisible,
bidirectional or look-alike character, so no two conversations look the same to staff.

WeChat OpenIDs (letters, digits, `-`, `_`) and `wechat:<OpenID>` satisfy the rule. A
conversation stored before the rule can still be read in the console, with its odd
characters shown escaped (`visible`), but not taken over or answered there.

Standard library only, like the rest of `conversation/`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_SENDER_CHARS = 255  # Rasa's SQL tracker store keeps sender ids in a VARCHAR(255)
SENDER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+~-]*")
# Unicode categories shown escaped: controls, format characters (zero-width, bidirectional
# marks and overrides, BOM), surrogates, private use, unassigned, and every separator.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def is_valid_sender_id(sender_id: object) -> bool:
    """Whether `sender_id` may name a conversation (the rule in the module docstring)."""
    return (isinstance(sender_id, str) and len(sender_id) <= MAX_SENDER_CHARS
            and SENDER_ID_PATTERN.fullmatch(sender_id) is not None)


def sender_id_for(prefix: str, name: str) -> str:
    """`prefix + name` when that is a valid sender id; else `prefix` and a digest of `name`,
    so that any name (a staff member's, say) gets one stable, valid id of its own."""
    candidate = f"{prefix}{name}"
    if is_valid_sender_id(candidate):
        return candidate
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{prefix}h{digest}"


def visible(sender_id: str) -> str:
    """The sender id as staff should read it: every character that could be invisible, reorder
    the text around it or be a space (even a plain one: "bob " must not pass for "bob")
    written as `\\uXXXX`, and `\\` as `\\\\`, so that two different ids never look the
    same. A valid id is shown unchanged."""
    if is_valid_sender_id(sender_id):
        return sender_id
    out = []
    for ch in sender_id:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in _HIDDEN_CATEGORIES:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
