"""The vocabulary of facts that rule conditions may test, and where each one comes from.

This is plumbing, not policy: it says which names exist and what values they take, so a
typo in the rules file is caught at load time instead of silently never matching. Which
values lead to which category lives only in the rules file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    BOOL = "bool"
    ENUM = "enum"
    LIST = "list"


SCALES = ("micro", "small", "medium", "large")
KEY_PROJECT_LEVELS = ("none", "national", "provincial", "municipal")
CATEGORIES = ("priority", "classified", "staggered", "closure")
UNDETERMINED = "undetermined"
INDUSTRY_STATUSES = ("matched", "unknown")


@dataclass(frozen=True)
class FactSpec:
    """One fact: its kind, allowed values, and the profile field a missing value asks for."""

    name: str
    kind: Kind
    values: tuple[str, ...] = ()
    source: str | None = None  # profile field; None for facts the engine derives itself
    overlay_only: bool = False  # only known after the category is decided


FACTS: dict[str, FactSpec] = {
    f.name: f
    for f in (
        FactSpec("industry_fields", Kind.LIST, source="industry"),
        FactSpec("industry_status", Kind.ENUM, INDUSTRY_STATUSES, source="industry"),
        FactSpec("scale", Kind.ENUM, SCALES, source="scale"),
        FactSpec("procedures_complete", Kind.BOOL, source="procedures_complete"),
        FactSpec("meets_emission_standards", Kind.BOOL, source="meets_emission_standards"),
        FactSpec("heavy_pollution", Kind.BOOL, source="heavy_pollution"),
        FactSpec("conforms_industrial_policy", Kind.BOOL, source="conforms_industrial_policy"),
        FactSpec("environmental_leader", Kind.BOOL, source="environmental_leader"),
        FactSpec("key_project", Kind.ENUM, KEY_PROJECT_LEVELS, source="key_project"),
        # Violation *types* (ids from the rules file's violation_types), not the raw text.
        FactSpec("violations", Kind.LIST, source="violations"),
        FactSpec("category", Kind.ENUM, (*CATEGORIES, UNDETERMINED), overlay_only=True),
    )
}
