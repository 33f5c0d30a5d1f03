"""The shared slot names are the ones domain.yml declares, and the profile form's slots are the
fields of the eligibility profile."""

from __future__ import annotations

import yaml

from actions.enterprise_profile import PROFILE_SLOTS
from conversation import slots
from knowledge.eligibility.profile import Profile
from tests.conftest import PROJECT_ROOT

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_every_shared_slot_is_declared_in_the_domain() -> None:
    assert set(slots.SHARED_SLOTS) <= set(DOMAIN["slots"])
    constants = {v for k, v in vars(slots).items() if (k.isupper() and isinstance(v, str)
                 and not k.startswith("HANDOFF_")) or k == "HANDOFF_REASON"}
    assert constants == set(slots.SHARED_SLOTS)


def test_profile_slots_are_the_profile_fields_and_declared() -> None:
    assert list(PROFILE_SLOTS) == list(Profile.field_order())
    assert set(PROFILE_SLOTS) <= set(DOMAIN["slots"])


def test_handoff_reasons_are_distinct_names() -> None:
    assert len(set(slots.HANDOFF_REASONS)) == len(slots.HANDOFF_REASONS) == 2
