"""Measured speed-ups of two Rasa 3.6 hot paths, installed in every Rasa server process.

Found with py-spy and cProfile under bench/load_bench.py (docs/scaling.md has the numbers):

1. Action server responses. Rasa checks each one with `jsonschema.validate(result, schema)`,
   which first re-validates the constant schema against the Draft 2020-12 meta-schema, then
   validates with the 2020-12 validator (slow `$dynamicRef` resolution), and tries every one
   of the 23 event types of the schema's `oneOf` on every event. Here the schema is checked
   once, and a response is validated by Draft 7 validators built once: one for its shape and
   one per event type, each event going to the type its `event` field names (the types are
   distinct consts, so an event satisfies its own type exactly when it satisfies the `oneOf`).
   Only when a response is invalid does Rasa's whole schema run, so the error is the one
   `jsonschema.validate` reports (`best_match`), with Rasa's message suffix.
2. Event deserialisation. `Event.resolve_by_type` walks every subclass of `Event` (with an
   `inspect.isabstract` check each) for every stored event of every conversation it loads.
   Here a name, once resolved, is remembered; unknown names still go through Rasa's code.

3. Garbage collection. After start-up a Rasa server holds about 500,000 long-lived objects
   (TensorFlow, the model, the domain); every full collection walks them all again, from the
   event loop, in the middle of someone's turn. `freeze_startup_heap` moves them out of the
   collector's sight once the model is loaded (`gc.freeze`, made for servers like this one);
   Rasa CPU per turn fell by about a tenth under bench/load_bench.py.

`install` refuses to patch validation if Rasa's schema ever uses a keyword whose meaning
differs between the drafts, or an event type without a distinct `const` name.
tests/rasa_runtime/test_rasa_speedups.py compares both paths with Rasa's own.
"""

from __future__ import annotations

import copy
import gc
import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event

log = logging.getLogger(__name__)

SAME_IN_DRAFT7 = frozenset({"type", "properties", "patternProperties", "required", "items",
                            "oneOf", "const"})
# Rasa's own code, kept at import (before `install`) to fall back on and to test against.
_RASA_RESOLVE_BY_TYPE = Event.resolve_by_type
_RASA_VALIDATE = RemoteAction._validate_action_result
_EVENT_TYPES: dict[str, type[Event]] = {}


def schema_keywords(schema: Any) -> Iterator[str]:
    """Every keyword used in `schema` (property names under `properties` are not keywords)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key
            if key in ("properties", "patternProperties"):
                for sub in value.values():
                    yield from schema_keywords(sub)
            else:
                yield from schema_keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from schema_keywords(item)


def event_type_schemas(event_schema: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """One schema per event name: the event schema without its `oneOf`, plus the one branch
    whose `event` const is that name. None when the branches are not told apart by distinct
    `event` consts (then an event could satisfy several, and `oneOf` would reject it)."""
    branches = event_schema.get("oneOf", [])
    names = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
    if not names or None in names or len(set(names)) != len(names):
        return None
    common = {k: v for k, v in event_schema.items() if k != "oneOf"}
    return {name: {"allOf": [common, branch]}
            for name, branch in zip(names, branches, strict=True)}


class ResponseValidator:
    """Rasa's action response schema, validated the fast way: the response's own shape by one
    small validator, then each event by the validator of the type it names. Same verdict as
    the whole schema: an event can only satisfy the `oneOf` branch of its own name."""

    def __init__(self, schema: dict[str, Any]) -> None:
        shape = copy.deepcopy(schema)
        event_schema = shape["properties"]["events"].pop("items")
        per_type = event_type_schemas(event_schema)
        if per_type is None:
            raise ValueError("event types are not told apart by distinct names")
        for sub in (schema, shape, *per_type.values()):
            Draft7Validator.check_schema(sub)
        self.full = Draft7Validator(schema)
        self._shape = Draft7Validator(shape)
        self._events = {name: Draft7Validator(s) for name, s in per_type.items()}

    def is_valid(self, result: Any) -> bool:
        if not self._shape.is_valid(result):
            return False
        for event in result.get("events", ()):
            name = event.get("event") if isinstance(event, dict) else None
            validator = self._events.get(name) if isinstance(name, str) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True


@cache
def _validator() -> ResponseValidator:
    return ResponseValidator(RemoteAction.action_response_format_spec())


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    validator = _validator()
    if validator.is_valid(result):
        return True
    error = best_match(validator.full.iter_errors(result))
    if error is None:  # cannot happen while the two agree; the whole schema decides
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from "
        f"the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions")
    raise error


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    cls = _EVENT_TYPES.get(type_name)
    if cls is not None:
        return cls
    try:
        cls = _RASA_RESOLVE_BY_TYPE(type_name)
    except ValueError:
        if default is not None:
            return default
        raise
    if cls is not None:
        _EVENT_TYPES[type_name] = cls
    return cls


def _install_validation() -> bool:
    schema = RemoteAction.action_response_format_spec()
    unknown = set(schema_keywords(schema)) - SAME_IN_DRAFT7
    if unknown:
        log.warning("action response schema uses %s; keeping Rasa's validation", sorted(unknown))
        return False
    try:
        _validator()
    except (KeyError, ValueError) as exc:
        log.warning("action response schema does not fit the fast path (%s); keeping Rasa's",
                    exc)
        return False
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return True


def install() -> bool:
    """Idempotent. False (Rasa's validation kept) if the schema no longer fits the fast path;
    the event-type cache is installed either way."""
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign]
    if RemoteAction._validate_action_result is _validate_action_result:
        return True
    _validator.cache_clear()
    return _install_validation()


def freeze_startup_heap() -> int:
    """Collects once, then freezes every object alive (call after the model is loaded);
    returns how many objects the collector will no longer walk."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
