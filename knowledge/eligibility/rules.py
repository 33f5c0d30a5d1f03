"""The eligibility rules file: schema, cross-checks and the compiled, immutable rule set.

Everything policy-specific (which facts lead to which category, which category wins a
conflict, which measures and obligations follow, and the clause each rests on) lives in
`knowledge/data/eligibility_rules.yml`; see docs/eligibility.md. Loading validates the whole
file and reports every problem with its line, so staff can fix an edit in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.eligibility.conditions import Condition, ConditionParser
from knowledge.eligibility.facts import CATEGORIES
from knowledge.eligibility.yaml_lines import (
    DataFileError,
    LineDict,
    Problem,
    format_loc,
    line_of,
    load_yaml,
)
from knowledge.paths import DATA_DIR

DEFAULT_RULES_PATH = DATA_DIR / "eligibility_rules.yml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# Phone-sized texts: an owner reads the result on WeChat. Longer text belongs in the clause.
_SHORT = 40
_REASON = 60


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CategoryModel(_Strict):
    label: str = Field(min_length=1, max_length=12)
    # An adverse summary says what the text provides for and what to verify: a little longer.
    summary: str = Field(min_length=1, max_length=2 * _REASON)
    favourable: bool = False


class _ViolationModel(_Strict):
    label: str = Field(min_length=1, max_length=12)
    keywords: list[str] = Field(min_length=1)
    # The law's articles on this violation ("doc_id#N"): quoted when the laws are loaded.
    legal_basis: list[str] = Field(default_factory=list)


class _ItemModel(_Strict):
    clause: str = Field(min_length=1)
    doc_id: str | None = None
    name: str | None = Field(default=None, max_length=16)
    text: str = Field(min_length=1, max_length=_SHORT)


class _RuleModel(_Strict):
    id: str
    category: str | None = None
    clause: str = Field(min_length=1)
    doc_id: str | None = None
    when: Any
    reason: str = Field(min_length=1, max_length=_REASON)
    measures: list[str] = []
    obligations: list[str] = []
    next_steps: list[str] = []
    withhold_measures: list[str] = []

    @field_validator("id")
    @classmethod
    def _id_format(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("rule ids are lower-case letters, digits and _")
        return v

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str | None) -> str | None:
        if v is not None and v not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {v!r}")
        return v


class _WhenEmptyModel(_Strict):
    measures: str = Field(min_length=1, max_length=_SHORT)
    obligations: str = Field(min_length=1, max_length=_SHORT)
    next_steps: str = Field(min_length=1, max_length=_SHORT)


class _RulesFileModel(_Strict):
    schema_version: int = Field(ge=1, le=1)
    doc_id: str = Field(min_length=1)
    disclaimer: str = Field(min_length=1, max_length=_REASON)
    when_empty: _WhenEmptyModel
    category_order: list[str]
    categories: dict[str, _CategoryModel]
    violation_types: dict[str, _ViolationModel]
    other_violation_label: str = Field(min_length=1, max_length=12)
    none_words: list[str]
    measures: dict[str, _ItemModel]
    obligations: dict[str, _ItemModel]
    next_steps: dict[str, _ItemModel]
    rules: list[_RuleModel] = Field(min_length=1)


@dataclass(frozen=True)
class ClauseRef:
    """A clause by document and key, not version: the engine reads the version in force."""

    doc_id: str
    clause_key: str


@dataclass(frozen=True)
class Item:
    """A measure, obligation or next step: short text plus the clause it rests on."""

    id: str
    text: str
    clause: ClauseRef
    name: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    category: str | None  # None: an overlay rule, applied after the category is decided
    clause: ClauseRef
    when: Condition
    reason: str
    measures: tuple[str, ...]
    obligations: tuple[str, ...]
    next_steps: tuple[str, ...]
    withhold_measures: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class ViolationType:
    id: str
    label: str
    keywords: tuple[str, ...]
    legal_basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """The validated rules file; the engine never sees raw YAML."""

    path: Path
    doc_id: str
    disclaimer: str
    when_empty: dict[str, str]  # what a reply says for a list with no item (measures, ...)
    category_order: tuple[str, ...]
    category_labels: dict[str, str]
    category_summaries: dict[str, str]
    favourable_categories: frozenset[str]
    violation_types: tuple[ViolationType, ...]
    other_violation: ViolationType
    none_words: tuple[str, ...]
    measures: dict[str, Item]
    obligations: dict[str, Item]
    next_steps: dict[str, Item]
    rules: tuple[Rule, ...]

    def category_rules(self, category: str) -> list[Rule]:
        return [r for r in self.rules if r.category == category]

    @property
    def overlay_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.category is None]

    def clause_refs(self) -> list[tuple[ClauseRef, str, int | None]]:
        """Every clause the file cites, with who cites it and where (to check against the store)."""
        refs = [(r.clause, f"rule {r.id}", r.line) for r in self.rules]
        for kind, items in (("measure", self.measures), ("obligation", self.obligations),
                            ("next step", self.next_steps)):
            refs += [(i.clause, f"{kind} {i.id}", i.line) for i in items.values()]
        return refs


def load_rules(path: Path = DEFAULT_RULES_PATH) -> RuleSet:
    """Loads and validates the rules file; raises DataFileError listing every located problem."""
    raw = load_yaml(path)
    if not isinstance(raw, LineDict):
        raise DataFileError(path, [Problem(1, "", "the rules file must be a mapping")])
    try:
        model = _RulesFileModel.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(path, [
            Problem(line_of(raw, e["loc"]), format_loc(e["loc"]), e["msg"]) for e in exc.errors()
        ]) from None
    return _Compiler(path, raw, model).compile()


class _Compiler:
    """Cross-checks the file (references, order, fallback) and builds the RuleSet."""

    def __init__(self, path: Path, raw: LineDict, model: _RulesFileModel) -> None:
        self.path, self.raw, self.m = path, raw, model
        self.problems: list[Problem] = []

    def _problem(self, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(line_of(self.raw, loc), format_loc(loc), message))

    def _ref(self, doc_id: str | None, clause: str) -> ClauseRef:
        return ClauseRef(doc_id or self.m.doc_id, clause)

    def _items(self, name: str) -> dict[str, Item]:
        items = {}
        for item_id, it in getattr(self.m, name).items():
            if not _ID.match(item_id):
                self._problem((name, item_id), "ids are lower-case letters, digits and _")
            items[item_id] = Item(item_id, it.text, self._ref(it.doc_id, it.clause),
                                  it.name or "", line_of(self.raw, (name, item_id)))
        return items

    def compile(self) -> RuleSet:
        m = self.m
        if sorted(m.category_order) != sorted(CATEGORIES):
            self._problem(("category_order",),
                          f"must list each of {', '.join(CATEGORIES)} exactly once")
        if set(m.categories) != set(CATEGORIES):
            self._problem(("categories",), f"must define exactly {', '.join(CATEGORIES)}")
        violations = tuple(ViolationType(k, v.label, tuple(v.keywords), tuple(v.legal_basis))
                           for k, v in m.violation_types.items())
        other = ViolationType("other", m.other_violation_label, ())
        catalogues = {n: self._items(n) for n in ("measures", "obligations", "next_steps")}
        rules = self._rules(catalogues, (*(v.id for v in violations), "other"))
        self._check_fallback(rules)
        if self.problems:
            raise DataFileError(self.path, self.problems)
        return RuleSet(
            path=self.path, doc_id=m.doc_id, disclaimer=m.disclaimer,
            when_empty=m.when_empty.model_dump(),
            category_order=tuple(m.category_order),
            category_labels={k: v.label for k, v in m.categories.items()},
            category_summaries={k: v.summary for k, v in m.categories.items()},
            favourable_categories=frozenset(k for k, v in m.categories.items() if v.favourable),
            violation_types=violations, other_violation=other,
            none_words=tuple(m.none_words),
            measures=catalogues["measures"], obligations=catalogues["obligations"],
            next_steps=catalogues["next_steps"], rules=tuple(rules),
        )

    def _rules(self, catalogues: dict[str, dict[str, Item]],
               violation_ids: tuple[str, ...]) -> list[Rule]:
        rules: list[Rule] = []
        seen: dict[str, int | None] = {}
        for i, r in enumerate(self.m.rules):
            loc: tuple[Any, ...] = ("rules", i)
            line = line_of(self.raw, loc)
            if r.id in seen:
                self._problem((*loc, "id"), f"duplicate rule id {r.id!r} (first on line"
                                            f" {seen[r.id]})")
            seen.setdefault(r.id, line)
            for name in ("measures", "obligations", "next_steps", "withhold_measures"):
                catalogue = catalogues["measures" if name == "withhold_measures" else name]
                for j, ref in enumerate(getattr(r, name)):
                    if ref not in catalogue:
                        self._problem((*loc, name, j), f"unknown {name.rstrip('s')} {ref!r}"
                                                       f" (defined: {', '.join(catalogue)})")
            if r.withhold_measures and r.category:
                self._problem((*loc, "withhold_measures"),
                              "only rules without a category may withhold measures")
            parser = ConditionParser({"violations": violation_ids}, overlay=r.category is None)
            when = parser.parse(self.raw["rules"][i].get("when"), f"rules[{i}].when",
                                line_of(self.raw, (*loc, "when")))
            self.problems.extend(parser.problems)
            if when is None:
                continue
            rules.append(Rule(
                id=r.id, category=r.category, clause=self._ref(r.doc_id, r.clause), when=when,
                reason=r.reason, measures=tuple(r.measures), obligations=tuple(r.obligations),
                next_steps=tuple(r.next_steps), withhold_measures=tuple(r.withhold_measures),
                line=line,
            ))
        return rules

    def _check_fallback(self, rules: list[Rule]) -> None:
        """The last category must have an `always` rule, so a complete profile always lands."""
        if not self.m.category_order or self.problems:
            return
        last = self.m.category_order[-1]
        if not any(r.category == last and r.when.kind == "always" for r in rules):
            self._problem(("category_order",), f"the last category ({last}) needs a rule with"
                                               " 'when: {always: true}' as the fallback")
        for category in self.m.category_order:
            if not any(r.category == category for r in rules):
                self._problem(("category_order",), f"no rule decides category {category!r}")
