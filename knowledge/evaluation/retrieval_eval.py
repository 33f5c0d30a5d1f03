"""Retrieval evaluation: hit@1, hit@3, MRR per leg, and the answerability guard.

Question files are TSV: ``question<TAB>gold substrings`` (any one, ``|``-separated), ``#``
comments. A question is a hit at rank r when the passage at rank r contains one of its gold
substrings (both sides compared after Traditional->Simplified conversion and removal of pinyin
annotations). A gold written ``doc_id#N`` names an article instead: a hit is a passage of article
N of that document (law questions: the gold is the article in force). Out-of-scope files hold
one question per line; the retriever must answer every one with answerable=False.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from knowledge.language.normalizer import TextNormalizer
from knowledge.models import Passage
from knowledge.question_sets import (
    EvalQuestion,
    is_question_file,
    load_lines,
    load_questions_tsv,
)
from knowledge.retrieval.retriever import Retriever

MRR_DEPTH = 10
ARTICLE_GOLD = re.compile(r"^([a-z0-9][a-z0-9-]*)#(\d{1,4})$")  # ecological-environment-code#52
# Legs reported by `bin/kb eval`: name -> fusion method (None: the configured default).
LEGS: dict[str, str | None] = {"bm25": "bm25", "dense": "dense", "hybrid": None}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Evaluator:
    def __init__(self, retriever: Retriever, normalizer: TextNormalizer | None = None) -> None:
        self.retriever = retriever
        self.normalizer = normalizer or retriever.normalizer

    def _clean(self, text: str) -> str:
        return self.normalizer.document_text(text)

    def _is_gold(self, passage: Passage, golds: list[str]) -> bool:
        for gold in golds:
            article = ARTICLE_GOLD.match(gold)
            if article:
                if passage.doc_id == article.group(1) and passage.item_no == int(article.group(2)):
                    return True
            elif gold in self._clean(passage.text):
                return True
        return False

    def rank_of_gold(self, question: EvalQuestion, method: str | None) -> tuple[int | None, dict]:
        result = self.retriever.search(question.question, MRR_DEPTH, fusion=method)
        golds = [g if ARTICLE_GOLD.match(g) else self._clean(g) for g in question.gold]
        rank = next((h.rank for h in result.hits if self._is_gold(h.passage, golds)), None)
        row = {
            "question": question.question,
            "rank": rank,
            "answerable": result.answerable,
            "top": result.hits[0].passage.text[:60] if result.hits else "",
            "top_citation": result.hits[0].passage.citation if result.hits else "",
            "top_in_force": (self.retriever.document_in_force(result.hits[0].passage.doc_id)
                             if result.hits else None),
            "reason": result.reason,
        }
        return rank, row

    def evaluate(self, questions: list[EvalQuestion], method: str | None) -> dict:
        ranks, rows, times = [], [], []
        for q in questions:
            started = time.perf_counter()
            rank, row = self.rank_of_gold(q, method)
            times.append(1000 * (time.perf_counter() - started))
            ranks.append(rank)
            rows.append(row)
        n = len(questions) or 1
        return {
            "n": len(questions),
            "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
            "hit@3": round(sum(r is not None and r <= 3 for r in ranks) / n, 4),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
            "answerable": round(sum(row["answerable"] for row in rows) / n, 4),
            # currency: questions whose top passage is from a text no longer in force
            "top_not_in_force": sum(row["top_in_force"] is False for row in rows),
            "latency_ms_p50": round(statistics.median(times), 2) if times else 0.0,
            "latency_ms_p95": round(percentile(times, 0.95), 2),
            "questions": rows,
        }

    def evaluate_out_of_scope(self, questions: list[str], method: str | None) -> dict:
        rows = []
        for q in questions:
            result = self.retriever.search(q, 3, fusion=method)
            rows.append({"question": q, "answerable": result.answerable,
                         "top": result.hits[0].passage.text[:60] if result.hits else "",
                         "reason": result.reason})
        n = len(questions) or 1
        rejected = sum(not r["answerable"] for r in rows)
        return {"n": len(questions), "rejected": round(rejected / n, 4),
                "wrongly_answerable": [r["question"] for r in rows if r["answerable"]],
                "questions": rows}


def leg_methods(retriever: Retriever) -> dict[str, str]:
    """The legs this retriever can evaluate, name -> fusion method."""
    health = retriever.health()
    default = health["fusion"] or "bm25"
    legs = {"bm25": "bm25"}
    if health["legs"]["dense"]:
        legs["dense"] = "dense"
        legs["hybrid"] = default if default not in ("bm25", "dense") else "rescue"
    legs["default"] = default
    return legs


def run(retriever: Retriever, files: list[Path], methods: dict[str, str] | None = None) -> dict:
    evaluator = Evaluator(retriever)
    methods = methods or leg_methods(retriever)
    report: dict = {"generation": retriever.generation, "health": retriever.health(),
                    "methods": methods, "sets": {}}
    for path in files:
        entry: dict = {"path": str(path)}
        if is_question_file(path):
            questions = load_questions_tsv(path)
            entry.update(kind="questions",
                         legs={name: evaluator.evaluate(questions, m)
                               for name, m in methods.items()})
        else:
            lines = load_lines(path)
            entry.update(kind="out_of_scope",
                         legs={name: evaluator.evaluate_out_of_scope(lines, m)
                               for name, m in methods.items()})
        report["sets"][Path(path).stem] = entry
    return report


def format_table(report: dict) -> str:
    lines = []
    q_sets = {k: v for k, v in report["sets"].items() if v["kind"] == "questions"}
    o_sets = {k: v for k, v in report["sets"].items() if v["kind"] == "out_of_scope"}
    if q_sets:
        lines.append(f"{'set':<28}{'leg':<20}{'n':>4}{'hit@1':>8}{'hit@3':>8}{'MRR':>8}"
                     f"{'answerable':>12}{'p50 ms':>9}{'p95 ms':>9}{'repealed@1':>11}")
        for name, entry in q_sets.items():
            for leg, r in entry["legs"].items():
                label = f"{leg}({report['methods'][leg]})" if leg in ("hybrid", "default") else leg
                lines.append(f"{name:<28}{label:<20}{r['n']:>4}{r['hit@1']:>8.3f}"
                             f"{r['hit@3']:>8.3f}{r['mrr']:>8.3f}{r['answerable']:>12.3f}"
                             f"{r['latency_ms_p50']:>9.1f}{r['latency_ms_p95']:>9.1f}"
                             f"{r['top_not_in_force']:>11}")
    if o_sets:
        lines.append("")
        lines.append(f"{'out-of-scope set':<28}{'leg':<20}{'n':>4}{'rejected':>10}"
                     "  wrongly answerable")
        for name, entry in o_sets.items():
            for leg, r in entry["legs"].items():
                label = f"{leg}({report['methods'][leg]})" if leg in ("hybrid", "default") else leg
                wrong = "、".join(r["wrongly_answerable"][:6])
                lines.append(f"{name:<28}{label:<20}{r['n']:>4}{r['rejected']:>10.3f}  {wrong}")
    return "\n".join(lines)
