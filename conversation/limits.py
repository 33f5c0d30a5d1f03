"""Limits on what a user may send, the same on every channel and in the console's chat."""

# Characters of one message that reach the assistant; longer ones are cut there (REST) or
# refused with a clear message (console). Retrieval reads at most KB_MAX_QUERY_CHARS of them.
MAX_MESSAGE_CHARS = 2000

# Bytes of one REST request body: a message of MAX_MESSAGE_CHARS even with every character
# escaped as \uXXXX, and its metadata, fit many times over. A bigger body is refused (413)
# before it is read into memory.
MAX_REST_BODY_BYTES = 64 * 1024
# Bytes of a REST message's `metadata` as compact UTF-8 JSON: a client's page or app version,
# not data. It is stored with every user message, so a bigger one is refused (413).
MAX_METADATA_BYTES = 2 * 1024
