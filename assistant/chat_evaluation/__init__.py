"""The chat-level evaluation (`make chat-eval`): owners' questions and scripted dialogues
played over REST against the real servers, graded as the owner would see them."""
