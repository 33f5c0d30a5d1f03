"""A measured speed-up of a Rasa 3.6 hot path, installed in every Rasa server process.

Rasa checks every action server response with `jsonschema.validate(result, schema)`. That
call first re-validates the (constant) schema against the Draft 2020-12 meta-schema, then
validates the response with the 2020-12 validator, whose `$dynamicRef` resolution is slow.
Under bench/load_bench.py, py-spy put the two at about 29% of the Rasa server's CPU.

Here the schema is checked once, and responses are validated by one Draft 7 validator built
for it. The response schema uses only keywords that Draft 7 and 2020-12 define identically
(type, properties, patternProperties, required, items with one schema, oneOf, const); `install`
refuses to patch if Rasa's schema ever uses another one. Invalid responses still raise
`jsonschema.ValidationError` with the error `jsonschema.validate` would pick (`best_match`)
and Rasa's own message suffix. tests/rasa_runtime/test_rasa_speedups.py holds both behaviours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

log = logging.getLogger(__name__)

SAME_IN_DRAFT7 = frozenset({"type", "properties", "patternProperties", "required", "items",
                            "oneOf", "const"})


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


@cache
def _response_validator() -> Draft7Validator:
    schema = RemoteAction.action_response_format_spec()
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from "
        f"the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions")
    raise error


def install() -> bool:
    """Idempotent; False (and Rasa's own code kept) if the schema needs more than Draft 7."""
    if RemoteAction._validate_action_result is _validate_action_result:
        return True
    unknown = set(schema_keywords(RemoteAction.action_response_format_spec())) - SAME_IN_DRAFT7
    if unknown:
        log.warning("action response schema uses %s; keeping Rasa's validation", sorted(unknown))
        return False
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return True

