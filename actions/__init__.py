"""Rasa SDK actions: thin adapters between Rasa and `knowledge/`."""
