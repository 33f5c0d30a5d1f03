"""Reads enterprise facts out of what an owner types, for the profile form.

"我们是做石墨烯材料的小企业，手续齐全，排放稳定达标" states four facts at once; the form should
not ask for them again. Owners answer the way people talk ("都办了", "基本达标吧", "不算大",
"哦不对，排污许可证还没下来"), so a message is read clause by clause: a clause that names a
fact's topic states that fact, with the clause's polarity; one that names none answers the
question just asked. Phrases, topic words and markers live in knowledge/data/profile_phrases.yml
so that staff can add how owners really talk without touching code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.eligibility.industry_classifier import IndustryClassification
from knowledge.language.question_splitter import is_question

UNKNOWN = "unknown"  # the owner does not know; the form stops asking, the engine sees None
BOOLEAN_FIELDS = (
    "procedures_complete",
    "meets_emission_standards",
    "heavy_pollution",
    "conforms_industrial_policy",
    "environmental_leader",
)
_CLAUSE_BREAK = re.compile(r"[\s，。！？,.!?、；;：:~～…]+")
# The shortest industry description worth keeping ("汽车配件" yes, "嗯" no).
_MIN_INDUSTRY_CHARS = 2
# A clause naming no topic is read as yes / no only when it is this short ("应该符合",
# "都办了"): in "我们是做光伏组件的" the 是 answers nothing. "Don't know" counts at any length.
_MAX_ANSWER_CHARS = 6
# ... or this short when it names what was asked about in general words ("排放应该没问题" to the
# emissions question): the topic's `asked` words count only for the question just asked.
_MAX_ASKED_ANSWER_CHARS = 12
# Word lists of profile_phrases.yml that say what a whole message is about (not a fact).
CUE_LISTS = ("industry_cues", "back_reference_cues", "own_enterprise_cues", "entitlement_cues",
             "accept_assessment_cues")
# Facts that may sit inside an industry description ("做石墨烯材料的小企业").
_DESCRIPTIVE_FIELDS = frozenset({"scale"})


@dataclass(frozen=True)
class _FieldPhrases:
    field: str
    options: tuple[tuple[Any, tuple[str, ...]], ...]  # (value, phrases) in priority order


@dataclass(frozen=True)
class _Topic:
    """Words that make a clause about one boolean fact, and the words that turn it around."""

    field: str
    cues: tuple[str, ...]
    inverse: tuple[str, ...] = ()  # the topic word itself says "no" (超标)
    low: tuple[str, ...] = ()  # a word that turns the topic around (污染小)
    yes_value: Any = True  # None: "yes" alone says too little (which level of key project?)
    no_value: Any = False
    asked: tuple[str, ...] = ()  # general words that name it only when it was just asked

    def named_by(self, clause: str) -> str | None:
        """'cue' or 'inverse' when the clause names this topic, else None."""
        if any(w in clause for w in self.inverse):
            return "inverse"
        return "cue" if any(w in clause for w in self.cues) else None


@dataclass(frozen=True)
class _Markers:
    unknown: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    not_negations: tuple[str, ...] = ()
    correction: tuple[str, ...] = ()
    affirmative: tuple[str, ...] = ()

    def is_unknown(self, clause: str) -> bool:
        return any(m in clause for m in self.unknown)

    def negated(self, clause: str) -> bool:
        """An odd number of negations ("不超标" negates 超标 once; "没有不达标" twice)."""
        for phrase in self.not_negations:
            clause = clause.replace(phrase, "")
        return sum(clause.count(n) for n in self.negations) % 2 == 1

    def strip_correction(self, clause: str) -> tuple[str, bool]:
        """The clause without a leading "说错了/我是说/其实", and whether it had one."""
        corrected = False
        changed = True
        while changed:
            changed = False
            for marker in sorted(self.correction, key=len, reverse=True):
                if clause.startswith(marker):
                    clause, corrected, changed = clause[len(marker):], True, True
                    break
        return clause.lstrip("哦噢啊呀"), corrected

    def answer(self, clause: str, limit: int = _MAX_ANSWER_CHARS) -> str | None:
        """'yes', 'no' or 'unknown' for a clause that answers without naming the topic."""
        if self.is_unknown(clause):
            return "unknown"
        if len(clause) > limit:
            return None
        if self.negated(clause):
            return "no"
        return "yes" if any(a in clause for a in self.affirmative) else None


@dataclass(frozen=True)
class StatedFacts:
    """What one message says about the enterprise.

    `terse`: fields set by a bare answer that did not name the topic ("不是"), which may have
    been meant for another question; `corrects`: the message says it corrects something.
    """

    facts: dict[str, Any] = field(default_factory=dict)
    terse: frozenset[str] = frozenset()
    corrects: bool = False


class ProfileExtractor:
    def __init__(
        self,
        fields: list[_FieldPhrases],
        answers: dict[str, tuple[str, ...]],
        labels: dict[str, str] | None = None,
        topics: tuple[_Topic, ...] = (),
        markers: _Markers | None = None,
        confirm_when_terse: Mapping[str, Any] | None = None,
        statements: Mapping[str, Mapping[Any, str]] | None = None,
        cues: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._cues = dict(cues or {})  # CUE_LISTS of the data file, by name
        self._fields = fields
        self._answers = answers
        self.labels = labels or {}  # how the assistant names each fact to the owner
        self._topics = topics
        self._markers = markers or _Markers()
        self._confirm_when_terse = dict(confirm_when_terse or {})
        self._statements = {k: dict(v) for k, v in (statements or {}).items()}

    @classmethod
    def load(cls, path: Path) -> ProfileExtractor:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        fields = [
            _FieldPhrases(name, tuple((o["value"], tuple(map(str, o["phrases"])))
                                      for o in options))
            for name, options in (data.get("fields") or {}).items()
        ]
        answers = {k: tuple(map(str, v)) for k, v in (data.get("answers") or {}).items()}
        topics = tuple(
            _Topic(name, *(tuple(map(str, spec.get(k) or ())) for k in ("cues", "inverse", "low")),
                   spec.get("yes_value", True), spec.get("no_value", False),
                   tuple(map(str, spec.get("asked") or ())))
            for name, spec in (data.get("topics") or {}).items())
        marker_data = data.get("markers") or {}
        markers = _Markers(**{k: tuple(map(str, marker_data.get(k) or ()))
                              for k in _Markers.__dataclass_fields__})
        return cls(fields, answers, {k: str(v) for k, v in (data.get("labels") or {}).items()},
                   topics, markers, data.get("confirm_when_terse"), data.get("statements"),
                   {name: tuple(map(str, data.get(name) or ())) for name in CUE_LISTS})

    def short_answer(self, text: str) -> str | None:
        """'yes', 'no' or 'unknown' when the whole message is a short answer, else None."""
        bare = _CLAUSE_BREAK.sub("", text.lower())
        for kind in ("unknown", "no", "yes"):  # 不清楚 before 不, 不是 before 是
            if bare in self._answers.get(kind, ()):
                return kind
        return None

    def _phrase_facts(self, clause: str) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        for spec in self._fields:
            for value, phrases in spec.options:
                if any(p in clause for p in phrases):
                    facts[spec.field] = value
                    break
        return facts

    def _topic_facts(self, clause: str) -> dict[str, Any]:
        """Boolean facts whose topic the clause names, valued by the clause's polarity."""
        facts: dict[str, Any] = {}
        for topic in self._topics:
            named = topic.named_by(clause)
            if named is None:
                continue
            if self._markers.is_unknown(clause):
                facts[topic.field] = UNKNOWN
                continue
            turned = (named == "inverse") + any(w in clause for w in topic.low)
            value = topic.yes_value if (turned % 2 == 1) == self._markers.negated(clause) \
                else topic.no_value
            if value is not None:
                facts[topic.field] = value
        return facts

    def stated_facts(self, text: str) -> dict[str, Any]:
        """Facts stated anywhere in the message, by phrase or by topic."""
        return self.read(text, None).facts

    def read(
        self,
        text: str,
        requested: str | None,
        industry: IndustryClassification | None = None,
    ) -> StatedFacts:
        """Every fact the message gives; `requested` is the field the assistant just asked.

        `industry` is the classifier's reading of the message: clauses that state no fact are
        the industry description when they name a known field, or when the industry was asked.
        """
        whole_answer = self.short_answer(text)
        clauses = [c for c in _CLAUSE_BREAK.split(text.lower()) if c]
        facts: dict[str, Any] = {}
        corrects = False
        bare_clauses: list[str] = []  # clauses that name no fact
        describing: list[str] = []  # clauses that may describe the industry
        for raw in clauses:
            # A message that is only "不对" answers the question; inside a longer one it
            # announces a correction.
            clause, corrected = ((raw, False) if whole_answer is not None
                                 else self._markers.strip_correction(raw))
            corrects |= corrected
            if not clause:
                continue
            # The topic reading knows negation ("没评过领跑者", "不属于淘汰类"): it wins over a
            # phrase that the clause merely contains.
            found = {**self._phrase_facts(clause), **self._topic_facts(clause)}
            facts.update(found)
            if not found:
                bare_clauses.append(clause)
            if set(found) <= _DESCRIPTIVE_FIELDS and self.short_answer(clause) is None \
                    and not self._markers.is_unknown(clause) and not is_question(clause):
                describing.append(clause)

        terse: set[str] = set()
        if requested in BOOLEAN_FIELDS or requested == "key_project":
            asked = next((t.asked for t in self._topics if t.field == requested), ())
            answers = [a for c in bare_clauses if (a := self._answer(c, whole_answer, asked))]
            value = self._answer_value(requested, answers[0]) if answers else None
            if requested not in facts and value is not None:
                facts[requested] = value
                terse.add(requested)
        if requested == "industry" and whole_answer == "unknown":
            facts["industry"] = UNKNOWN
        elif industry is not None and whole_answer is None and describing and (
            not industry.unknown or requested == "industry"
        ):
            description = "，".join(describing)
            if len(description) >= _MIN_INDUSTRY_CHARS:
                facts["industry"] = description
        return StatedFacts(facts, frozenset(terse), corrects)

    def refers_back(self, text: str) -> bool:
        """Whether a category question is about the category of the last answer."""
        return self._has("back_reference_cues", text)

    def about_own_enterprise(self, text: str) -> bool:
        return self._has("own_enterprise_cues", text)

    def asks_entitlement(self, text: str) -> bool:
        """'我们公司能享受哪些政策': what the owner's own enterprise can get."""
        return self.about_own_enterprise(text) and self._has("entitlement_cues", text)

    def accepts_assessment(self, text: str) -> bool:
        """A reply to the offer of an assessment that takes it ("可以，评估一下", "行")."""
        if is_question(text):
            return False
        return self.answer(text) == "yes" or self._has("accept_assessment_cues", text)

    def describes_business(self, text: str) -> bool:
        """Whether words read as an industry talk about a business at all ("做家具的")."""
        return self._has("industry_cues", text)

    def _has(self, cue_list: str, text: str) -> bool:
        return any(cue in text for cue in self._cues.get(cue_list, ()))

    def answer(self, text: str) -> str | None:
        """'yes', 'no' or 'unknown' for a reply to a yes/no question ("对的", "不对", "不清楚")."""
        whole = self.short_answer(text)
        if whole is not None:
            return whole
        for clause in _CLAUSE_BREAK.split(text.lower()):
            if clause and (found := self._markers.answer(clause)):
                return found
        return None

    def _answer(self, clause: str, whole_answer: str | None,
                asked: tuple[str, ...] = ()) -> str | None:
        limit = _MAX_ASKED_ANSWER_CHARS if any(w in clause for w in asked) else _MAX_ANSWER_CHARS
        return whole_answer or self._markers.answer(clause, limit)

    @staticmethod
    def _answer_value(requested: str, answer: str) -> Any:
        if requested == "key_project":  # "yes" needs the level, which the buttons offer
            return {"no": "none", "unknown": UNKNOWN}.get(answer)
        return {"yes": True, "no": False}.get(answer, UNKNOWN)

    def extract(
        self,
        text: str,
        requested: str | None,
        industry: IndustryClassification | None = None,
    ) -> dict[str, Any]:
        """The facts of `read`, for callers that need no more."""
        return self.read(text, requested, industry).facts

    def needs_confirmation(self, stated: StatedFacts) -> str | None:
        """A field set tersely to a value that could lead to an adverse verdict, if any."""
        for name in sorted(stated.terse):
            if name in self._confirm_when_terse and \
                    stated.facts.get(name) == self._confirm_when_terse[name]:
                return name
        return None

    def statement(self, name: str, value: Any) -> str:
        """How the assistant repeats a fact back: '手续齐全'."""
        if name == "industry":  # the owner's own words
            return f"“{value}”" if value != UNKNOWN else "不清楚所属行业"
        return self._statements.get(name, {}).get(value, f"{self.labels.get(name, name)}：{value}")

    def statements(self, facts: Mapping[str, Any]) -> str:
        """'手续齐全、能稳定达标排放' for the facts known, in profile order."""
        return "、".join(self.statement(n, v) for n, v in facts.items()
                        if v is not None and (n in self._statements or n == "industry"))
