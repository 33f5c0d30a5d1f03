"""The enterprise profile the engine assesses: what the conversation (or a JSON line) says.

Every field may be missing (None): an owner answers one question at a time, and the
engine's job includes saying which facts it still needs. Values are validated strictly so
that a typo in a field name ("procedure_complete") is an error, not a silently missing fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from knowledge.eligibility.facts import KEY_PROJECT_LEVELS, SCALES
from knowledge.eligibility.yaml_lines import format_loc

# The value lists are the facts vocabulary's (facts.py): a tuple subscript spells out a Literal.
Scale = Literal[SCALES]
KeyProject = Literal[KEY_PROJECT_LEVELS]


class ProfileError(ValueError):
    """The profile is not valid; the message names each bad field."""


class Profile(BaseModel):
    """Facts about one enterprise, as the owner stated them; None means not yet known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    industry: str | None = Field(default=None, max_length=200)
    scale: Scale | None = None
    procedures_complete: StrictBool | None = None
    meets_emission_standards: StrictBool | None = None
    heavy_pollution: StrictBool | None = None
    conforms_industrial_policy: StrictBool | None = None
    environmental_leader: StrictBool | None = None
    key_project: KeyProject | None = None
    violations: list[str] | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | Profile) -> Profile:
        """Validates a mapping (e.g. parsed JSON or Rasa slots); raises ProfileError."""
        if isinstance(data, Profile):
            return data
        if not isinstance(data, Mapping):
            raise ProfileError("a profile must be a JSON object")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ProfileError("; ".join(_message(e) for e in exc.errors())) from None

    @classmethod
    def field_order(cls) -> list[str]:
        """The profile fields in declaration order: the order missing facts are reported in."""
        return list(cls.model_fields)


def _message(error: Any) -> str:
    where = format_loc(error["loc"]) or "profile"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field (profile fields: {', '.join(Profile.field_order())})"
    return f"{where}: {error['msg']}"
