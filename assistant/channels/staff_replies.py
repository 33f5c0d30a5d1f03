"""How a reply written by staff in the console is marked in the conversation.

Shared by the REST channel (its outbox returns these) and the console (which writes them);
kept free of Rasa imports because the console runs in the action server's runtime.
"""

from assistant.channels.messages import MESSAGES

STAFF_METADATA_KEY = "staff"  # bot event metadata: the staff member's user name
# What a user hears when they write while staff hold the conversation (Rasa stays quiet).
HUMAN_HAS_TAKEN_OVER = MESSAGES.human_has_taken_over
