"""Policy knowledge base: ingestion, clause store, retrieval and (later) the rules engine.

Runs inside the action-server runtime (Python 3.11). `knowledge.text_normalizer` is the one
module the Rasa runtime imports too, so it depends on nothing but OpenCC and PyYAML.
"""
