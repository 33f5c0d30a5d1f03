"""Profile in, assessment out: the rules file applied to one enterprise.

The engine holds no policy itself: it evaluates the rules file's conditions over the
profile's facts, resolves the category by the file's conflict order, collects the measures,
obligations and next steps of the rules that fired, and quotes each cited clause from the
version of the document currently in force in the knowledge store (the latest ingested,
unless a version is pinned for an audit), so a republished opinion is quoted at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.citations import article_label, format_citation
from knowledge.eligibility.assessment import Assessment, CitedItem, LegalConsequence, Reason
from knowledge.eligibility.facts import UNDETERMINED
from knowledge.eligibility.industry_classifier import (
    DEFAULT_LEXICON_PATH,
    IndustryClassification,
    IndustryClassifier,
    load_lexicon,
)
from knowledge.eligibility.profile import Profile
from knowledge.eligibility.reloading import ReloadingFile
from knowledge.eligibility.rules import (
    DEFAULT_RULES_PATH,
    ClauseRef,
    Item,
    Rule,
    RuleSet,
    load_rules,
)
from knowledge.eligibility.violations import ReportedViolation, classify_violations
from knowledge.language.normalizer import TextNormalizer
from knowledge.models import Clause, DocumentInfo, KnowledgeBaseUnavailable
from knowledge.store.clause_store import ClauseStore
from knowledge.store.versions import in_force

RULES_FILE = "eligibility_rules.yml"
LEXICON_FILE = "industry_lexicon.yml"


class ClauseUnavailable(KnowledgeBaseUnavailable):
    """A cited document or clause is not in the knowledge store (not ingested, or amended away).

    Quoting a clause that is not there would put words in the policy's mouth, so the
    assessment fails instead; `bin/kb assess --check` finds such references beforehand.
    """


class _InForceClauses:
    """The clauses of each cited document's version in force, read once per assessment."""

    def __init__(self, store: ClauseStore, pinned: Mapping[str, str]) -> None:
        self._store = store
        self._pinned = pinned
        self._docs: dict[str, tuple[DocumentInfo, dict[str, Clause]]] = {}

    def document(self, doc_id: str) -> DocumentInfo:
        return self._load(doc_id)[0]

    def get(self, ref: ClauseRef) -> Clause:
        info, clauses = self._load(ref.doc_id)
        if ref.clause_key not in clauses:
            raise ClauseUnavailable(f"{ref.doc_id}@{info.version} has no clause"
                                    f" {ref.clause_key!r} (have: {', '.join(clauses)})")
        return clauses[ref.clause_key]

    def _load(self, doc_id: str) -> tuple[DocumentInfo, dict[str, Clause]]:
        if doc_id not in self._docs:
            # The store lists versions by effective date, then version: the last is in force.
            versions = [d for d in self._store.documents() if d.doc_id == doc_id]
            wanted = self._pinned.get(doc_id)
            if wanted is not None:
                versions = [d for d in versions if d.version == wanted]
            if not versions:
                raise ClauseUnavailable(f"document {doc_id}{'@' + wanted if wanted else ''} is"
                                        " not in the knowledge base: run `bin/kb ingest`")
            info = versions[-1]
            clauses = {c.clause_key: c for c in self._store.clauses(doc_id)
                       if c.version == info.version}
            self._docs[doc_id] = (info, clauses)
        return self._docs[doc_id]


@dataclass
class _Decision:
    """The category (None if undetermined), the facts still needed, and who fired how."""

    category: str | None = None
    missing: set[str] = field(default_factory=set)
    fired: list[tuple[Rule, str, str | None]] = field(default_factory=list)
    open_categories: list[str] = field(default_factory=list)  # could still fire


def _decide(rules: RuleSet, facts: Mapping[str, Any]) -> _Decision:
    """Walks the categories in the file's conflict order.

    The first category with a rule that fires decides, unless an earlier category could
    still fire once a missing fact is known: then nothing is decided and the facts behind
    every still-open earlier category are reported as missing; but when every open earlier
    category is favourable, the firing one is decided all the same (the missing facts could
    only raise it) and the open ones are reported with the missing facts.
    """
    decision = _decide_strictly(rules, facts)
    if decision.category is None and decision.open_categories and \
            set(decision.open_categories) <= rules.favourable_categories:
        decision = _decide_strictly(rules, facts, assume_closed=set(decision.open_categories))
    return decision


def _decide_strictly(rules: RuleSet, facts: Mapping[str, Any],
                     assume_closed: set[str] | None = None) -> _Decision:
    """The conflict order as written; `assume_closed` categories never block the decision
    (their missing facts are still reported)."""
    decision = _Decision()
    blocked = settled = False
    for category in rules.category_order:
        fired, needs = [], set()
        for rule in rules.category_rules(category):
            outcome = rule.when.evaluate(facts)
            if outcome.value is True:
                fired.append(rule)
            elif outcome.value is None:
                needs |= outcome.needs
        if not settled:
            if fired:
                settled = True
                decision.category = None if blocked else category
            elif needs:
                blocked = blocked or category not in (assume_closed or ())
                decision.missing |= needs
                decision.open_categories.append(category)
        for rule in fired:
            if decision.category == category:
                decision.fired.append((rule, "decides", None))
            elif rule.when.kind == "always":
                continue  # the fallback "fires" for everyone: reporting it says nothing
            elif decision.category is not None:
                decision.fired.append((rule, "overridden", decision.category))
            else:
                decision.fired.append((rule, "pending", None))
    return decision


def _facts(profile: Profile, industry: IndustryClassification | None,
           violations: list[ReportedViolation] | None) -> dict[str, Any]:
    facts: dict[str, Any] = profile.model_dump(exclude={"industry", "violations"})
    facts["industry_fields"] = list(industry.fields) if industry else None
    facts["industry_status"] = industry.status if industry else None
    facts["violations"] = [v.type for v in violations] if violations is not None else None
    return facts


@dataclass(frozen=True)
class IndustryFinding:
    """Where an owner's description of their business sits among the opinion's strategic
    fields, with the clause that lists them (for "我们做X的，算不算战略性新兴产业")."""

    description: str  # the owner's own words
    fields: tuple[str, ...]  # the fields it maps to; empty when it maps to none
    all_fields: tuple[str, ...]  # every field the clause lists, in its order
    clause_text: str  # the clause's sentence that lists the fields
    citation: str


@dataclass(frozen=True)
class CategoryCriterion:
    """Who the opinion puts in a category, quoted: for "那我们厂会被列进去吗" after an answer
    about that category's measures."""

    category: str
    label: str
    text: str  # the clause's sentence naming the category (or the clause)
    citation: str


class EligibilityEngine:
    """Assesses enterprise profiles; rules and lexicon reload when their files change."""

    def __init__(self, store: ClauseStore, normalizer: TextNormalizer,
                 rules_path: Path = DEFAULT_RULES_PATH,
                 lexicon_path: Path = DEFAULT_LEXICON_PATH,
                 versions: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.normalizer = normalizer
        self.versions = dict(versions or {})  # doc_id -> version, to pin one for an audit
        self._rules = ReloadingFile(rules_path, load_rules)
        self._lexicon = ReloadingFile(lexicon_path, load_lexicon)
        self._classifier: IndustryClassifier | None = None

    @property
    def rules(self) -> RuleSet:
        return self._rules.get()

    @property
    def classifier(self) -> IndustryClassifier:
        lexicon = self._lexicon.get()
        if self._classifier is None or self._classifier.lexicon is not lexicon:
            self._classifier = IndustryClassifier(lexicon, self.normalizer)
        return self._classifier

    def classify_industry(self, text: str) -> IndustryClassification:
        return self.classifier.classify(text)

    def industry_finding(self, description: str) -> IndustryFinding:
        """The fields a description maps to, quoted from the lexicon's clause in force.

        Raises ClauseUnavailable when that clause is not in the store.
        """
        lexicon = self._lexicon.get()
        clause = _InForceClauses(self.store, self.versions).get(
            ClauseRef(lexicon.doc_id, lexicon.clause))
        sentences = [s for s in re.split(r"(?<=[;；。])\s*", clause.text) if s]
        listing = next((s for s in sentences if any(name in s for name in lexicon.field_names)),
                       clause.text)
        return IndustryFinding(description, self.classify_industry(description).fields,
                               tuple(lexicon.field_names), listing.rstrip(";；"),
                               clause.citation)

    def category_criteria(self, doc_id: str, clause_key: str) -> list[CategoryCriterion]:
        """The categories a clause is about (a category rule rests on it, or one of the
        category's measures, obligations or next steps cites it), each with the sentence of
        its deciding clause that names who is in it."""
        rules = self.rules
        clauses = _InForceClauses(self.store, self.versions)
        ref = ClauseRef(doc_id, clause_key)
        out: list[CategoryCriterion] = []
        for category in rules.category_order:
            own = rules.category_rules(category)
            items = [i for r in own for name, ids in (("measures", r.measures),
                                                      ("obligations", r.obligations),
                                                      ("next_steps", r.next_steps))
                     for i in (getattr(rules, name)[x] for x in ids)]
            if not any(r.clause == ref for r in own) and not any(i.clause == ref for i in items):
                continue
            label = rules.category_labels[category]
            for deciding in dict.fromkeys(r.clause for r in own if r.when.kind != "always"):
                clause = clauses.get(deciding)
                sentences = [x for x in re.split(r"(?<=[。；;])\s*", clause.text) if x]
                named = [x for x in sentences if label[:2] in x] or [clause.text]
                out.append(CategoryCriterion(category, label, named[0].strip(), clause.citation))
        return out

    def assess(self, profile: Mapping[str, Any] | Profile) -> Assessment:
        """Assesses one profile.

        Raises ProfileError for invalid input, ClauseUnavailable if a cited clause is not in
        the store (not ingested, or dropped by an amendment).
        """
        p = Profile.parse(profile)
        rules = self.rules
        clauses = _InForceClauses(self.store, self.versions)
        industry = (self.classifier.classify(p.industry)
                    if p.industry is not None and p.industry.strip() else None)
        violations = (classify_violations(p.violations, rules, self.normalizer)
                      if p.violations is not None else None)
        facts = _facts(p, industry, violations)
        decision = _decide(rules, facts)
        facts["category"] = decision.category or UNDETERMINED
        overlay = [r for r in rules.overlay_rules if r.when.evaluate(facts).value is True]
        # Items are listed in the order of their rules in the file: staff decide what an
        # owner reads first (violations before hints).
        position = {r.id: i for i, r in enumerate(rules.rules)}
        sources = sorted([r for r, effect, _ in decision.fired if effect == "decides"] + overlay,
                         key=lambda r: position[r.id])
        withheld = {m for r in overlay for m in r.withhold_measures}

        def cite(catalogue: Mapping[str, Item], ids: Iterable[str]) -> tuple[CitedItem, ...]:
            items = [catalogue[i] for i in dict.fromkeys(ids)]  # first mention wins
            return tuple(CitedItem(i.id, i.text, i.clause.clause_key,
                                   clauses.get(i.clause).citation, i.name) for i in items)

        reasons = [self._reason(r, effect, by, clauses) for r, effect, by in
                   sorted(decision.fired, key=lambda f: f[1] != "decides")]
        reasons += [self._reason(r, "withholds" if r.withhold_measures else "adds", None, clauses)
                    for r in overlay]
        info = clauses.document(rules.doc_id)
        order = Profile.field_order()
        return Assessment(
            category=decision.category,
            category_label=rules.category_labels.get(decision.category or ""),
            open_categories=tuple(rules.category_labels[c] for c in decision.open_categories),
            summary=rules.category_summaries.get(decision.category or ""),
            missing=tuple(f for f in order if f in decision.missing),
            fields=industry.fields if industry else (),
            industry=industry,
            violations=tuple(violations or ()),
            measures=cite(rules.measures, (m for r in sources for m in r.measures
                                           if m not in withheld)),
            obligations=cite(rules.obligations, (o for r in sources for o in r.obligations)),
            next_steps=cite(rules.next_steps, (s for r in sources for s in r.next_steps)),
            reasons=tuple(reasons),
            document={"doc_id": info.doc_id, "version": info.version, "title": info.title},
            disclaimer=rules.disclaimer,
            when_empty=rules.when_empty,
            legal_consequences=self._consequences(rules, violations or ()),
        )

    def _consequences(self, rules: RuleSet,
                      violations: Iterable[ReportedViolation]) -> tuple[LegalConsequence, ...]:
        """The articles in force on each reported violation (the rules file's `legal_basis`),
        quoted up to their first full stop or semicolon: the sanction and its fine range.
        Nothing when the laws are not in the store."""
        types = {v.id: v for v in (*rules.violation_types, rules.other_violation)}
        current = in_force(self.store.versions())
        out: list[LegalConsequence] = []
        seen: set[str] = set()
        for violation in violations:
            for ref in types[violation.type].legal_basis:
                doc_id, _, number = ref.partition("#")
                info = current.get(doc_id)
                if ref in seen or info is None or not number.isdigit():
                    continue
                clause = self.store.clause(doc_id, info.version, f"第{int(number)}条")
                if clause is None:
                    continue
                seen.add(ref)
                first = re.split(r"(?<=[。；])", clause.text, maxsplit=1)[0].rstrip("。；")
                out.append(LegalConsequence(
                    violation.label, doc_id, int(number), clause.citation,
                    format_citation(info.name, article_label(int(number))), first))
        return tuple(out)

    @staticmethod
    def _reason(rule: Rule, effect: str, by: str | None, clauses: _InForceClauses) -> Reason:
        clause = clauses.get(rule.clause)
        return Reason(rule.id, effect, rule.category, rule.reason, clause.doc_id,
                      clause.version, clause.clause_key, clause.citation, clause.text, by)

    def check(self) -> list[str]:
        """Problems between the data files and the store's documents in force (empty: fine).

        Loading already validated the files themselves; this finds what only the store can
        tell: a cited clause that an amended opinion no longer has, a renamed field.
        """
        rules, lexicon = self.rules, self._lexicon.get()
        clauses = _InForceClauses(self.store, self.versions)
        problems = []
        for ref, who, line in rules.clause_refs():
            try:
                clauses.get(ref)
            except ClauseUnavailable as exc:
                problems.append(f"{rules.path}:{line or '?'}: {who}: {exc}")
        try:
            named_in = clauses.get(ClauseRef(lexicon.doc_id, lexicon.clause))
        except ClauseUnavailable as exc:
            return [*problems, f"{lexicon.path}: {exc}"]
        problems += [f"{lexicon.path}: field {name!r} is not named in {named_in.citation}"
                     for name in lexicon.field_names if name not in named_in.text]
        return problems
