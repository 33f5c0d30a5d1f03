"""Calibrates the answerability thresholds (knowledge/settings.py) on the calibration sets.

    .venv-actions/bin/python bench/calibrate_answerability.py \
        [--in eval/retrieval_tune.tsv] [--out eval/out_of_scope_tune.txt] [--json-out PATH]

For every calibration question it records the features the guard uses for the top hit of the
configured ranking: BM25 score (with anticipated questions), idf-weighted coverage of the
question's words, and the dense cosine. It then proposes thresholds that reject every
out-of-scope calibration question with a margin, and reports how many in-scope ones each path
accepts. Rerun it after the corpus, glossary or anticipated questions change a lot (BM25 scores
grow with the corpus), then copy the proposal into the settings or KB_* variables and check
with `bin/kb eval` on the held-out and out-of-scope sets. It never reads the evaluation sets.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.evaluation.retrieval_eval import load_lines, load_questions_tsv  # noqa: E402
from knowledge.knowledge_base import KnowledgeBase  # noqa: E402

LEX_MARGIN = 0.3
SIM_MARGIN = 0.02


def features(kb: KnowledgeBase, question: str) -> dict:
    r = kb.retriever
    result = r.search(question, 3)
    d = result.details
    sim = d.get("top_dense")
    gen = r._generation
    if sim is None and result.hits and gen is not None and gen.dense is not None and r.encoder:
        top = next(i for i, p in enumerate(gen.passages)
                   if p.passage_id == result.hits[0].passage.passage_id)
        qvec = r.encoder.encode_queries([result.normalized_query])[0]
        sim = float(gen.dense.similarities(qvec, np.asarray([top]))[0])
    return {"question": question, "lex": float(d.get("top_lexical", 0.0)),
            "coverage": float(d.get("coverage", 0.0)), "sim": sim,
            "answerable_now": result.answerable,
            "top": result.hits[0].passage.text[:40] if result.hits else ""}


def ceil_to(x: float, step: float) -> float:
    return round(math.ceil(round(x / step, 6)) * step, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="inscope", default=str(ROOT / "eval/retrieval_tune.tsv"))
    ap.add_argument("--out", dest="outscope", default=str(ROOT / "eval/out_of_scope_tune.txt"))
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    kb = KnowledgeBase.from_env()
    inside = [features(kb, q.question) for q in load_questions_tsv(Path(args.inscope))]
    outside = [features(kb, q) for q in load_lines(Path(args.outscope))]

    max_out_lex = max(f["lex"] for f in outside)
    min_in_lex = min(f["lex"] for f in inside)
    # Lexical path: halfway between the classes when they separate, else above every outsider.
    min_score = (round((max_out_lex + min_in_lex) / 2, 1) if min_in_lex > max_out_lex + LEX_MARGIN
                 else ceil_to(max_out_lex + LEX_MARGIN, 0.1))
    min_coverage = max(0.0, math.floor((min(f["coverage"] for f in inside) - 0.02) * 20) / 20)
    sims_out = [f["sim"] for f in outside if f["sim"] is not None]
    min_sim = ceil_to(max(sims_out) + SIM_MARGIN, 0.01) if sims_out else None
    # Dense path still wants some word overlap: below every outsider that reaches min_sim.
    proposal = {"min_score": min_score, "min_coverage": min_coverage,
                "min_dense_similarity": min_sim}
    lexical_ok = sum(f["lex"] >= min_score and f["coverage"] >= min_coverage for f in inside)
    print(f"{'set':<5}{'lex':>7}{'cov':>7}{'sim':>8}  now  question")
    for tag, rows in (("in", inside), ("out", outside)):
        for f in sorted(rows, key=lambda f: f["lex"]):
            sim = f"{f['sim']:.3f}" if f["sim"] is not None else "   -"
            print(f"{tag:<5}{f['lex']:>7.2f}{f['coverage']:>7.2f}{sim:>8}  "
                  f"{'yes' if f['answerable_now'] else 'no ':<4} {f['question']}")
    print(f"\nout-of-scope max: bm25 {max_out_lex:.2f}, dense {max(sims_out or [0]):.3f};"
          f" in-scope min bm25 {min_in_lex:.2f}")
    print(f"proposal: {json.dumps(proposal)}; lexical path accepts {lexical_ok}/{len(inside)}"
          " in-scope calibration questions")
    s = kb.settings
    print(f"current:  min_score={s.min_score} min_coverage={s.min_coverage}"
          f" min_dense_similarity={s.min_dense_similarity}"
          f" min_dense_lexical={s.min_dense_lexical} min_dense_coverage={s.min_dense_coverage}")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(
            {"proposal": proposal, "inside": inside, "outside": outside},
            ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
