"""The evaluation question files, read in one place.

Question files are TSV: ``question<TAB>gold substrings`` (any one, ``|``-separated), ``#``
comments; out-of-scope files hold one question per line. `bin/kb eval`, the retrieval and load
benchmarks and the NLU routing check all read them. Standard library only, on purpose: the NLU
routing check runs in Rasa's runtime, which lacks the retriever's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    gold: tuple[str, ...]


def load_questions_tsv(path: Path) -> list[EvalQuestion]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{n}: expected question<TAB>gold substrings")
        question, gold = line.split("\t", 1)
        golds = tuple(g.strip() for g in gold.split("|") if g.strip())
        if not question.strip() or not golds:
            raise ValueError(f"{path}:{n}: empty question or gold")
        out.append(EvalQuestion(question.strip(), golds))
    return out


def load_lines(path: Path) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_question_file(path: Path) -> bool:
    return any("\t" in line and not line.startswith("#")
               for line in Path(path).read_text(encoding="utf-8").splitlines())


def question_texts(path: Path) -> list[str]:
    """The questions of either kind of file, without their gold substrings."""
    if is_question_file(path):
        return [q.question for q in load_questions_tsv(path)]
    return load_lines(path)
