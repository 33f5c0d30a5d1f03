"""`bin/kb successors [--write] [--check GOLD.tsv]`: successor articles of repealed texts."""

from __future__ import annotations

import argparse
from pathlib import Path

from knowledge.evaluation.retrieval_eval import ARTICLE_GOLD
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.successors import SUCCESSORS_FILE, guess_successors, merge_into_file


def _check(gold_path: Path, links: dict[tuple[str, int], tuple[int, ...]]) -> tuple[int, int]:
    right = total = 0
    for line in gold_path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        old, new = line.split("\t", 1)
        m = ARTICLE_GOLD.match(old.strip())
        if not m:
            continue
        wanted = {int(g.split("#")[1]) for g in new.split("|") if ARTICLE_GOLD.match(g.strip())}
        total += 1
        right += bool(wanted & set(links.get((m.group(1), int(m.group(2))), ())))
    return right, total


def cmd_successors(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    guesses = guess_successors(kb)
    print(f"{len(guesses)} successor links guessed for"
          f" {len({g.old_doc for g in guesses})} repealed document(s)")
    if args.check:
        right, total = _check(Path(args.check), {(g.old_doc, g.old_article): g.new_articles
                                                 for g in guesses})
        print(f"agreement with {args.check}: {right}/{total}"
              f" ({right / total if total else 0:.3f})")
    if args.write:
        path = kb.settings.data_dir / SUCCESSORS_FILE
        merge_into_file(guesses, path)
        print(f"wrote {path} (reviewed links kept); run `bin/kb ingest` to serve it")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("successors", help="guess successor articles of repealed texts")
    p.add_argument("--write", action="store_true",
                   help="merge the guesses into knowledge/data/successors.yml")
    p.add_argument("--check", help="TSV of old_doc#N<TAB>new_doc#M gold links to compare with")
    p.set_defaults(handler=cmd_successors)
