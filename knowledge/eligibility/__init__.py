"""Eligibility: which category and which support measures the opinion gives an enterprise.

Rules and the industry lexicon are data (knowledge/data/eligibility_rules.yml,
knowledge/data/industry_lexicon.yml, documented in docs/eligibility.md); this package only
validates and applies them. Entry point for callers (the CLI, the Rasa action):

    engine = kb.eligibility_engine()
    engine.assess({"industry": "石墨烯导热膜", "scale": "small", ...}).to_json()
"""

from knowledge.eligibility.assessment import Assessment, CitedItem, Reason
from knowledge.eligibility.engine import ClauseUnavailable, EligibilityEngine
from knowledge.eligibility.industry_classifier import IndustryClassification, IndustryClassifier
from knowledge.eligibility.profile import Profile, ProfileError
from knowledge.eligibility.yaml_lines import DataFileError

__all__ = [
    "Assessment",
    "CitedItem",
    "ClauseUnavailable",
    "DataFileError",
    "EligibilityEngine",
    "IndustryClassification",
    "IndustryClassifier",
    "Profile",
    "ProfileError",
    "Reason",
]
