"""Limits on what a user may send, the same on every channel and in the console's chat."""

# Characters of one message that reach the assistant; longer ones are cut there (REST) or
# refused with a clear message (console). Retrieval reads at most KB_MAX_QUERY_CHARS of them.
MAX_MESSAGE_CHARS = 2000
