"""Rule conditions: parsed from the rules file, evaluated in three-valued logic.

A profile arrives with gaps (the owner has not said yet whether procedures are complete).
A condition over a missing fact is neither true nor false but unknown, and the engine must
then say which facts it still needs instead of guessing. Kleene logic gives exactly that:
`any` is true as soon as one branch is true, `all` is false as soon as one branch is false,
and only the facts behind still-unknown branches are reported as needed.

Grammar (one key per condition):
    always: true
    all: [cond, ...]        any: [cond, ...]        not: cond
    fact: NAME, is: VALUE               fact: NAME, in: [VALUE, ...]
    fact: NAME, nonempty: true|false    fact: NAME, contains: VALUE     (list facts)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from knowledge.eligibility.facts import FACTS, Kind
from knowledge.eligibility.yaml_lines import LineDict, LineList, Problem

Truth = bool | None  # None: unknown, because a fact it depends on is missing


@dataclass(frozen=True)
class Outcome:
    """A condition's truth value and, when unknown, the profile fields that would settle it."""

    value: Truth
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Condition:
    """A parsed condition; `kind` is always/all/any/not/fact."""

    kind: str
    children: tuple[Condition, ...] = ()
    fact: str = ""
    op: str = ""
    operand: Any = None
    facts: frozenset[str] = field(default=frozenset(), compare=False)

    def evaluate(self, facts: Mapping[str, Any]) -> Outcome:
        if self.kind == "always":
            return Outcome(True)
        if self.kind == "fact":
            return self._leaf(facts)
        outcomes = [c.evaluate(facts) for c in self.children]
        if self.kind == "not":
            inner = outcomes[0]
            return Outcome(None if inner.value is None else not inner.value, inner.needs)
        decisive = self.kind == "any"  # the value that settles the whole: True for any
        if any(o.value is decisive for o in outcomes):
            return Outcome(decisive)
        unknown = [o for o in outcomes if o.value is None]
        if not unknown:
            return Outcome(not decisive)
        return Outcome(None, frozenset().union(*(o.needs for o in unknown)))

    def _leaf(self, facts: Mapping[str, Any]) -> Outcome:
        value = facts.get(self.fact)
        if value is None:
            source = FACTS[self.fact].source
            return Outcome(None, frozenset({source}) if source else frozenset())
        if self.op == "is":
            return Outcome(value == self.operand)
        if self.op == "in":
            return Outcome(value in self.operand)
        if self.op == "nonempty":
            return Outcome(bool(value) == self.operand)
        return Outcome(self.operand in value)  # contains


_COMPOUND = ("all", "any", "not", "always")
_OPS = ("is", "in", "nonempty", "contains")


class ConditionParser:
    """Turns the YAML of a `when:` into a Condition, collecting located problems."""

    def __init__(self, extra_values: Mapping[str, tuple[str, ...]], overlay: bool) -> None:
        # extra_values: allowed values that come from the rules file itself (violation types).
        self.extra_values = extra_values
        self.overlay = overlay
        self.problems: list[Problem] = []

    def parse(self, raw: Any, where: str, line: int | None) -> Condition | None:
        line = getattr(raw, "line", None) or line
        if not isinstance(raw, dict):
            return self._fail(line, where, "a condition must be a mapping,"
                                           " e.g. {fact: ..., is: ...}")
        if "fact" in raw:
            return self._parse_leaf(raw, where, line)
        keys = [k for k in raw if k in _COMPOUND]
        if len(keys) != 1 or len(raw) != 1:
            return self._fail(line, where, f"expected exactly one of fact/{'/'.join(_COMPOUND)},"
                                           f" got {sorted(map(str, raw))}")
        kind = keys[0]
        body = raw[kind]
        if kind == "always":
            if body is not True:
                return self._fail(line, where, "'always' must be true")
            return Condition("always")
        if kind == "not":
            child = self.parse(body, f"{where}.not", line)
            return None if child is None else Condition("not", (child,), facts=child.facts)
        if not isinstance(body, list) or not body:
            return self._fail(line, where, f"'{kind}' needs a non-empty list of conditions")
        item_lines = body.item_lines if isinstance(body, LineList) else [line] * len(body)
        children = [self.parse(c, f"{where}.{kind}[{i}]", item_lines[i])
                    for i, c in enumerate(body)]
        if any(c is None for c in children):
            return None
        kids = tuple(c for c in children if c is not None)
        return Condition(kind, kids, facts=frozenset().union(*(c.facts for c in kids)))

    def _parse_leaf(self, raw: dict, where: str, line: int | None) -> Condition | None:
        name = raw["fact"]
        spec = FACTS.get(name) if isinstance(name, str) else None
        if spec is None:
            return self._fail(line, where, f"unknown fact {name!r}; known: {', '.join(FACTS)}")
        if spec.overlay_only and not self.overlay:
            return self._fail(line, where, f"'{name}' is only known after the category is"
                                           " decided: use it in rules without a category")
        ops = [k for k in raw if k != "fact"]
        if len(ops) != 1 or ops[0] not in _OPS:
            return self._fail(line, where, f"fact '{name}' needs exactly one of {', '.join(_OPS)}")
        op = ops[0]
        operand = raw[op]
        if isinstance(raw, LineDict):
            line = raw.key_lines.get(op, line)
        problem = self._check_operand(name, spec.kind, op, operand)
        if problem:
            return self._fail(line, where, problem)
        if op == "in":
            operand = tuple(operand)
        return Condition("fact", fact=name, op=op, operand=operand, facts=frozenset({name}))

    def _check_operand(self, name: str, kind: Kind, op: str, operand: Any) -> str | None:
        allowed = FACTS[name].values or self.extra_values.get(name, ())
        if kind == Kind.LIST:
            if op == "nonempty":
                return None if isinstance(operand, bool) else "'nonempty' takes true or false"
            if op == "contains":
                if allowed and operand not in allowed:
                    return f"{operand!r} is not one of {', '.join(allowed)}"
                return None
            return f"list fact '{name}' takes 'nonempty' or 'contains', not '{op}'"
        if op in ("nonempty", "contains"):
            return f"'{op}' is for list facts; '{name}' is {kind.value}"
        values = list(operand) if op == "in" and isinstance(operand, list) else [operand]
        if op == "in" and not isinstance(operand, list):
            return "'in' takes a list of values"
        for v in values:
            if kind == Kind.BOOL and not isinstance(v, bool):
                return f"'{name}' is true or false, not {v!r}"
            if kind == Kind.ENUM and v not in allowed:
                return f"{v!r} is not a value of '{name}' ({', '.join(allowed)})"
        return None

    def _fail(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(Problem(line, where, message))
        return None
