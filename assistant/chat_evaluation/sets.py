"""The chat-level evaluation sets in eval/chat/, read in one place.

- `<topic>_<half>.tsv`: ``question<TAB>gold`` (|-separated; a clause substring or
  ``doc_id#article``), graded right / wrong / declined;
- `out_of_scope_<half>.txt`: one probe a line, graded rejected / invented;
- `dialogues_<half>.yml`: scripted conversations, each turn with expected and forbidden
  patterns.

`<half>` is `tune` (may be used for tuning) or `heldout` (never used to tune anything); the
report keeps the halves apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.chat_evaluation.grading import TurnCheck
from knowledge.question_sets import EvalQuestion, load_lines, load_questions_tsv

HALVES = ("tune", "heldout")
# A set written after everything was frozen (eval/sealed/): evaluated once, only when named.
SEALED = "post"


@dataclass(frozen=True)
class Dialogue:
    name: str
    kind: str
    turns: tuple[TurnCheck, ...]


@dataclass(frozen=True)
class QuestionSet:
    name: str  # the file's stem: policy_tune
    half: str
    questions: tuple[EvalQuestion, ...] = ()  # answer sets
    probes: tuple[str, ...] = ()  # out-of-scope sets
    dialogues: tuple[Dialogue, ...] = ()

    @property
    def kind(self) -> str:
        if self.dialogues:
            return "dialogues"
        return "out_of_scope" if self.probes else "answers"


def _half(path: Path) -> str:
    half = path.stem.rsplit("_", 1)[-1]
    if half not in (*HALVES, SEALED):
        raise ValueError(f"{path}: the name must end in _tune, _heldout or _post")
    return half


def _patterns(value: object, where: str) -> tuple[str, ...]:
    patterns = [value] if isinstance(value, str) else list(value or [])
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ValueError(f"{where}: bad pattern {pattern!r}: {exc}") from exc
    return tuple(patterns)


def load_dialogues(path: Path) -> tuple[Dialogue, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    dialogues = []
    for n, item in enumerate(data.get("dialogues") or [], 1):
        where = f"{path} dialogue {n}"
        turns = []
        for t, turn in enumerate(item.get("turns") or [], 1):
            if not isinstance(turn, dict) or "user" not in turn:  # "" is a valid message
                raise ValueError(f"{where} turn {t}: no user message")
            turns.append(TurnCheck(str(turn["user"]),
                                   _patterns(turn.get("expect"), f"{where} turn {t}"),
                                   _patterns(turn.get("forbid"), f"{where} turn {t}")))
        if not item.get("name") or not turns:
            raise ValueError(f"{where}: a dialogue needs a name and turns")
        dialogues.append(Dialogue(str(item["name"]), str(item.get("kind", "")), tuple(turns)))
    names = [d.name for d in dialogues]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: dialogue names repeat")
    return tuple(dialogues)


def load_set(path: Path) -> QuestionSet:
    half = _half(path)
    if path.suffix == ".tsv":
        return QuestionSet(path.stem, half, questions=tuple(load_questions_tsv(path)))
    if path.suffix == ".txt":
        return QuestionSet(path.stem, half, probes=tuple(load_lines(path)))
    if path.suffix in (".yml", ".yaml"):
        return QuestionSet(path.stem, half, dialogues=load_dialogues(path))
    raise ValueError(f"{path}: not an evaluation set (.tsv, .txt or .yml)")


def load_sets(directory: Path, halves: tuple[str, ...] = HALVES) -> list[QuestionSet]:
    paths = sorted(p for p in directory.iterdir()
                   if p.suffix in (".tsv", ".txt", ".yml", ".yaml"))
    sets = [load_set(p) for p in paths]
    return [s for s in sets if s.half in halves]


def load_paths(paths: list[Path], halves: tuple[str, ...] = HALVES) -> list[QuestionSet]:
    """Sets from directories (their files of the chosen halves) and files (as named, whatever
    their half: a sealed set is only ever evaluated by naming it)."""
    out: list[QuestionSet] = []
    for path in paths:
        out += load_sets(path, halves) if path.is_dir() else [load_set(path)]
    return out
