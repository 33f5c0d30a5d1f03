"""What each retrieval technique contributes: hit@1 / hit@3 / answerable per set and variant.

    .venv-actions/bin/python bench/retrieval_ablation.py [--json-out PATH]

Builds the shipped knowledge base in a temporary home once, then evaluates variants of the
settings against every question set (dev, colloquial, the project's own tune / held-out /
post-freeze held-out sets) and the out-of-scope sets. Takes about a minute; not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.evaluation.retrieval_eval import Evaluator, load_lines, load_questions_tsv  # noqa: E402
from knowledge.indexing.encoders import load_encoder  # noqa: E402
from knowledge.knowledge_base import KnowledgeBase  # noqa: E402
from knowledge.retrieval.retriever import Retriever  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402

SETS = {
    "dev": ROOT.parent / "shared/eval/retrieval_dev.tsv",
    "colloquial": ROOT.parent / "shared/eval/retrieval_dev_colloquial.tsv",
    "tune": ROOT / "eval/retrieval_tune.tsv",
    "heldout": ROOT / "eval/retrieval_heldout.tsv",
    "post": ROOT / "eval/retrieval_heldout_post.tsv",
}
OUT = {"oos": ROOT / "eval/out_of_scope.txt", "oos_tune": ROOT / "eval/out_of_scope_tune.txt",
       "oos_post": ROOT / "eval/out_of_scope_post.txt"}

# (label, settings overrides, fusion method); every row changes one thing from the default.
VARIANTS: list[tuple[str, dict, str | None]] = [
    ("baseline: no glossary, no questions", {"glossary_matcher": "none",
                                             "anticipated_questions": False}, "bm25"),
    ("+ glossary (substring matcher)", {"glossary_matcher": "substring",
                                        "anticipated_questions": False}, "bm25"),
    ("+ glossary (spaCy matcher)", {"anticipated_questions": False}, "bm25"),
    ("+ anticipated questions (max)", {"question_mode": "max", "question_weight": 1.0}, "bm25"),
    ("+ anticipated questions (sum 0.3)", {}, "bm25"),
    ("dense only (m3e-small int8)", {}, "dense"),
    ("hybrid rrf", {}, "rrf"),
    ("hybrid weighted 0.3", {}, "weighted"),
    ("hybrid rerank 0.3 depth 10", {}, "rerank"),
    ("hybrid rescue 0.3 (default)", {}, "rescue"),
    ("hybrid rescue, fp32 model", {"dense_quantize": False}, "rescue"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="retrieval ablation (not a test)")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    kb = KnowledgeBase(KnowledgeSettings(home=Path(tempfile.mkdtemp(prefix="kb-ablation-"))))
    kb.ingest_sources()
    questions = {k: load_questions_tsv(p) for k, p in SETS.items() if p.exists()}
    outside = {k: load_lines(p) for k, p in OUT.items() if p.exists()}
    rows = []
    header = "".join(f"{k:>16}" for k in questions) + "".join(f"{k:>10}" for k in outside)
    print(f"{'variant':<38}{header}")
    print(f"{'':<38}" + "".join(f"{'h@1/h@3/ans':>16}" for _ in questions)
          + "".join(f"{'rejected':>10}" for _ in outside))
    for label, overrides, method in VARIANTS:
        settings = kb.settings.model_copy(update=overrides)
        encoder = kb.encoder
        if settings.dense_quantize != kb.settings.dense_quantize:
            encoder, _ = load_encoder(settings.dense_model, settings.dense_model_path,
                                      settings.dense_query_prefix, settings.dense_quantize)
        r = Retriever(settings, kb.normalizer, kb.tokenizer, encoder)
        ev = Evaluator(r)
        row = {"variant": label, "method": method, "overrides": overrides, "sets": {}}
        cells = []
        for name, qs in questions.items():
            m = ev.evaluate(qs, method)
            row["sets"][name] = {k: m[k] for k in ("hit@1", "hit@3", "mrr", "answerable")}
            cells.append(f"{m['hit@1']:.2f}/{m['hit@3']:.2f}/{m['answerable']:.2f}")
        for name, qs in outside.items():
            m = ev.evaluate_out_of_scope(qs, method)
            row["sets"][name] = {"rejected": m["rejected"]}
            cells.append(f"{m['rejected']:.2f}")
        rows.append(row)
        print(f"{label:<38}" + "".join(f"{c:>16}" for c in cells[:len(questions)])
              + "".join(f"{c:>10}" for c in cells[len(questions):]), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(rows, ensure_ascii=False, indent=2),
                                       encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
