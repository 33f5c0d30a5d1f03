"""The action server's knowledge objects, each created once on first use.

rasa-sdk instantiates action classes without arguments, so the shared, lazily loaded
knowledge base, eligibility engine and profile extractor live here rather than in each action.
"""

from __future__ import annotations

from functools import cache

from knowledge.eligibility import EligibilityEngine
from knowledge.eligibility.profile_extractor import ProfileExtractor
from knowledge.knowledge_base import KnowledgeBase


@cache
def knowledge_base() -> KnowledgeBase:
    return KnowledgeBase.from_env()


@cache
def eligibility_engine() -> EligibilityEngine:
    return knowledge_base().eligibility_engine()


@cache
def profile_extractor() -> ProfileExtractor:
    return ProfileExtractor.load(knowledge_base().settings.data_dir / "profile_phrases.yml")
