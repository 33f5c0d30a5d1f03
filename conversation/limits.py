"""Limits on what a user may send, the same on every channel and in the console's chat.

They bound the work one message can cause (issue 26): the NLU reads the whole message, and
every question in it is searched (knowledge settings `KB_MAX_QUERY_CHARS`,
`KB_DENSE_QUERY_CHARS` bound each search; `knowledge.language.question_splitter.MAX_QUESTIONS`
how many are answered). docs/security.md lists them.
"""

# Characters of a user's message the assistant reads (owners' questions are under 60; three in
# one message well under 300). A longer message is not processed: the channel asks, politely,
# for a shorter one (REST and WeChat, `message_too_long` in assistant/channels/messages.yml).
MAX_USER_MESSAGE_CHARS = 500
# Characters of any text staff write in the console (a chat turn, a reply to a user); a chat
# turn over MAX_USER_MESSAGE_CHARS still gets the channel's request for a shorter one.
MAX_MESSAGE_CHARS = 2000

# Bytes of one REST request body: a message of MAX_MESSAGE_CHARS even with every character
# escaped as \uXXXX, and its metadata, fit many times over. A bigger body is refused (413)
# before it is read into memory.
MAX_REST_BODY_BYTES = 64 * 1024
# Bytes of a REST message's `metadata` as compact UTF-8 JSON: a client's page or app version,
# not data. It is stored with every user message, so a bigger one is refused (413).
MAX_METADATA_BYTES = 2 * 1024
# Messages one sender may send: a burst of RATE_BURST at once, then one every
# RATE_REFILL_SECONDS; a message over the rate is answered with `rate_limited` (messages.yml)
# and not processed. Environment: CHANNEL_RATE_BURST, CHANNEL_RATE_REFILL_SECONDS.
RATE_BURST = 12
RATE_REFILL_SECONDS = 2.0
