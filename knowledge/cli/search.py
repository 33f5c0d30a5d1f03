"""`bin/kb search` and `bin/kb ingest`: ask the knowledge base, (re)build it from the sources."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from knowledge.knowledge_base import KnowledgeBase
from knowledge.retrieval.retriever import Retriever, SearchResult


def _search_json(result: SearchResult) -> list[dict]:
    return [dict(h.to_json(), answerable=result.answerable) for h in result.hits]


def _queries(arg: str) -> Iterable[str]:
    if arg != "-":
        yield arg
        return
    for line in sys.stdin:
        yield line.rstrip("\n")


def cmd_search(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    if args.version:
        docs = [d for d in kb.store.versions(args.doc_id) if d.version == args.version]
        if not docs:
            print(f"kb: no document has version {args.version!r}", file=sys.stderr)
            return 2
        with kb.audit_retriever({d.doc_id: d.version for d in docs}) as retriever:
            return _search(args, retriever)
    return _search(args, kb.retriever)


def _search(args: argparse.Namespace, retriever: Retriever) -> int:
    for query in _queries(args.query):
        result = retriever.search(query, args.top_k)
        if args.json:
            print(json.dumps(_search_json(result), ensure_ascii=False), flush=True)
            continue
        print(f"问题: {query}  [{'可回答' if result.answerable else '未覆盖'}; {result.reason}]")
        for hit in result.hits:
            print(f"  {hit.rank}. ({hit.score:.2f}) {hit.passage.text}")
            print(f"     —— {hit.passage.citation}")
    return 0


def cmd_ingest(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    parsed, generation = kb.ingest_sources()
    summary = [
        {
            "doc_id": p.info.doc_id,
            "version": p.info.version,
            "sections": p.sections,
            "clauses": len(p.clauses),
            "passages": len(p.passages),
            "unplaced_lines": p.unplaced_lines,
            "dropped_lines": p.dropped_lines,
        }
        for p in parsed
    ]
    if args.json:
        print(json.dumps({"documents": summary, "generation": generation}, ensure_ascii=False))
    else:
        for s in summary:
            print(f"{s['doc_id']}@{s['version']}: {len(s['sections'])} sections,"
                  f" {s['clauses']} clauses, {s['passages']} passages,"
                  f" {len(s['unplaced_lines'])} unplaced, {len(s['dropped_lines'])} dropped")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search the policy passages")
    p.add_argument("query", help="the question, or - to read one question per line from stdin")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--version", help="search this stored version instead of the one in force"
                   " (audit: e.g. --version 2019)")
    p.add_argument("--doc-id", help="with --version: only this document's version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("ingest", help="ingest the sources manifest and rebuild the index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ingest)
