"""Names of the conversation state that several processes share, defined once.

The actions write slots into a conversation's tracker; the staff console, the metrics and the
channels read them back. Every such name (slots, handoff reasons, message limits) lives here.
Standard library only and imports nothing else of the project, so that both runtimes and every
layer may import it (pyproject.toml's import contracts); domain.yml declares the same slots,
and a unit test keeps the two in step.
"""
