"""`bin/kb eval FILE...`: retrieval hit@1 / hit@3 / MRR per leg, out-of-scope rejection."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.evaluation.retrieval_eval import format_table, leg_methods, run
from knowledge.knowledge_base import KnowledgeBase


def cmd_eval(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"kb eval: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    retriever = kb.retriever
    methods = leg_methods(retriever)
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        methods = {m: m for m in wanted}
    try:
        report = run(retriever, files, methods)
    except ValueError as exc:
        print(f"kb eval: {exc}", file=sys.stderr)
        return 2
    print(format_table(report))
    health = report["health"]
    print(f"\nlegs live: {', '.join(k for k, v in health['legs'].items() if v)};"
          f" default fusion: {health['fusion']}; dense: {health['dense']['status']};"
          f" glossary matcher: {health['glossary_matcher']};"
          f" anticipated questions: {health['anticipated_questions']}")
    if args.misses:
        for name, entry in report["sets"].items():
            for leg, r in entry["legs"].items():
                for row in r["questions"]:
                    miss = (row.get("rank") is None or row["rank"] > 3) if entry["kind"] == \
                        "questions" else row["answerable"]
                    if miss:
                        print(f"  [{name}/{leg}] {row['question']} -> {row['top']}"
                              f" (rank {row.get('rank')}) {row['reason']}")
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """`bin/kb eval FILE...`: hit@1/hit@3/MRR per leg; out-of-scope files: rejection rate."""
    p = sub.add_parser("eval", help="evaluate retrieval: hit@1, hit@3, MRR per leg")
    p.add_argument("files", nargs="+", help="question TSV files and/or out-of-scope .txt files")
    p.add_argument("--json-out", help="write the full report (per question) as JSON here")
    p.add_argument("--methods", help="comma-separated fusion methods to report instead of the"
                   " legs (bm25,dense,rrf,weighted,rerank,rescue)")
    p.add_argument("--misses", action="store_true", help="list questions missed at top 3")
    p.set_defaults(handler=cmd_eval)
