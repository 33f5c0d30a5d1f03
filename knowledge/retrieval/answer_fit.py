"""Whether the clause retrieval found answers what the question actually asks.

Retrieval finds the clause closest to a question, which is not always a clause that answers
it: "补贴多少钱" finds "落实各项环保财税政策" (which names no amount), and "我们排放一直达标，会
不会也被停产" finds the clause that closes enterprises *unable* to meet the standards. Quoting
either as the answer misleads an owner. This module reads the question and the clause text
with the cue lists of knowledge/data/answer_fit.yml (policy staff edit them):

* `Fit.missing`: what the question asks for (an amount, a time, a procedure) that the clause
  does not give; the answer then says so, quotes the clause as what the text does say, and
  offers a human;
* `Fit.conflict`: the question states a condition of the owner's enterprise that is the
  opposite of the clause's own condition (达标 vs 不能稳定达标); the answer then says the clause
  is about the opposite case and gives the clause that does speak to the owner's case, or
  declines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.paths import DATA_DIR

ANSWER_FIT_FILE = DATA_DIR / "answer_fit.yml"
# How far before a stated phrase a negation still belongs to it ("不能稳定达标").
NEGATION_WINDOW = 4
_NEGATIONS = frozenset("不没未无非")
_PUNCTUATION = re.compile(r"[，,。；;！!？?、\s]")


@dataclass(frozen=True)
class Specific:
    """Something a question may ask for that a clause must itself give to answer it."""

    kind: str  # amount | duration | procedure
    label: str  # how the reply names it: 金额
    asks: tuple[str, ...]
    gives: tuple[re.Pattern[str], ...]

    def asked_in(self, question: str) -> bool:
        return any(cue in question for cue in self.asks)

    def given_in(self, clause: str) -> bool:
        return any(pattern.search(clause) for pattern in self.gives)


@dataclass(frozen=True)
class Instead:
    """Where the clause for the owner's own case is: the passage `query` finds holding
    `phrase` (verified, so a changed text never lets another clause stand in)."""

    query: str
    phrase: str


@dataclass(frozen=True)
class OppositeCondition:
    stated: tuple[str, ...]
    stated_label: str
    clause: tuple[str, ...]
    clause_label: str
    asking: tuple[str, ...] = ()
    instead: Instead | None = None

    def stated_in(self, question: str) -> bool:
        """A stated phrase occurs without a negation just before it (in the same clause of
        the sentence): "一直达标" states it, "不能稳定达标" does not."""
        for phrase in self.stated:
            for match in re.finditer(re.escape(phrase), question):
                before = question[max(0, match.start() - NEGATION_WINDOW):match.start()]
                before = _PUNCTUATION.split(before)[-1]
                if not _NEGATIONS & set(before):
                    return True
        return False

    def applies(self, question: str, clause: str) -> bool:
        return (any(c in clause for c in self.clause) and self.stated_in(question)
                and (not self.asking or any(a in question for a in self.asking)))


@dataclass(frozen=True)
class Conflict:
    """The question's own condition against the clause's, as the reply names them."""

    stated: str  # 排放达标
    clause_case: str  # 不能稳定达标排放或超标排放
    instead: Instead | None = None


@dataclass(frozen=True)
class Fit:
    """What the best clause leaves unanswered; empty when it answers the question."""

    missing: tuple[Specific, ...] = ()
    conflict: Conflict | None = None

    @property
    def missing_label(self) -> str:
        """金额 / 时间或期限和办理流程: what the reply says the text does not give."""
        return "和".join(s.label for s in self.missing)


@dataclass(frozen=True)
class AnswerFitRules:
    specifics: tuple[Specific, ...] = ()
    conditions: tuple[OppositeCondition, ...] = field(default_factory=tuple)
    # Phrases holding a cue that ask nothing (好几天): removed before the cues are matched.
    not_asking: tuple[str, ...] = ()

    def _asking(self, question: str) -> str:
        for phrase in self.not_asking:
            question = question.replace(phrase, "")
        return question

    @classmethod
    def load(cls, path: Path = ANSWER_FIT_FILE) -> AnswerFitRules:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        specifics = tuple(
            Specific(str(s["kind"]), str(s["label"]), _words(s.get("asks")),
                     tuple(re.compile(str(p)) for p in s.get("gives") or ()))
            for s in data.get("specifics") or ())
        conditions = tuple(
            OppositeCondition(
                _words(c.get("stated")), str(c["stated_label"]), _words(c.get("clause")),
                str(c["clause_label"]), _words(c.get("asking")),
                Instead(str(c["instead"]["query"]), str(c["instead"]["phrase"]))
                if c.get("instead") else None)
            for c in data.get("opposite_conditions") or ())
        return cls(specifics, conditions, _words(data.get("not_asking")))

    def asks_specifics(self, question: str) -> bool:
        """The question asks for an amount, a time or a procedure: a policy question even
        when nothing answers it ("申请表在哪里下载")."""
        question = self._asking(question)
        return any(s.asked_in(question) for s in self.specifics)

    def fit(self, question: str, clause: str) -> Fit:
        question = self._asking(question)
        conflict = next((Conflict(c.stated_label, c.clause_label, c.instead)
                         for c in self.conditions if c.applies(question, clause)), None)
        missing = tuple(s for s in self.specifics
                        if s.asked_in(question) and not s.given_in(clause))
        return Fit(missing, conflict)


def _words(values: object) -> tuple[str, ...]:
    return tuple(str(v) for v in values or () if str(v).strip()) \
        if isinstance(values, list | tuple) else ()


@lru_cache(maxsize=1)
def default_rules() -> AnswerFitRules:
    """The shipped rules, read once per process."""
    return AnswerFitRules.load()
