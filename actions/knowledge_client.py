"""The action server's one KnowledgeBase, created on first use.

rasa-sdk instantiates action classes without arguments, so the shared, lazily loaded
knowledge base lives here rather than in each action.
"""

from __future__ import annotations

from functools import cache

from knowledge.knowledge_base import KnowledgeBase


@cache
def knowledge_base() -> KnowledgeBase:
    return KnowledgeBase.from_env()
