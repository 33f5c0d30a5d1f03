"""Custom Rasa NLU components (loaded by the Rasa server, Python 3.10)."""
