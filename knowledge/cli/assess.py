"""`bin/kb assess`: assess enterprise profiles from the command line.

    bin/kb assess --json   < profile.json     one profile (a JSON object) -> one result
    bin/kb assess - --json < profiles.jsonl   one profile per line -> one result per line
    bin/kb assess --check                     check the rules and lexicon against the store

In JSON Lines mode each input line gets exactly one output line, in order, so results can
be pasted next to their inputs; a line that is not a valid profile gets an `{"error": ...}`
line (exit status 1 at the end) instead of stopping the batch with a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from knowledge.citations import clause_reference
from knowledge.eligibility.assessment import Assessment
from knowledge.eligibility.engine import EligibilityEngine
from knowledge.eligibility.profile import ProfileError
from knowledge.eligibility.yaml_lines import DataFileError
from knowledge.knowledge_base import KnowledgeBase


def _inputs(source: str | None) -> Iterator[tuple[int, str]]:
    """(line number, JSON text) pairs: the whole of stdin, or each line of it.

    A blank line is an input too (and gets an error line): skipping it would shift every
    later result against its input.
    """
    if source != "-":
        yield 1, sys.stdin.read()
        return
    yield from enumerate(sys.stdin, start=1)


def _parse(text: str) -> Any:
    if not text.strip():
        raise ProfileError("no profile given: expected a JSON object on stdin")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None


def render_text(a: Assessment) -> str:
    """A plain-text rendering for staff at a terminal (the chat has its own templates)."""
    lines = [f"依据：《{a.document['title']}》({a.document['version']})"]
    if a.category:
        fields = f"（{'、'.join(a.fields)}）" if a.fields else ""
        lines += [f"类别：{a.category_label}{fields}", a.summary or ""]
    else:
        lines.append(f"类别：暂不能判断，还需要：{'、'.join(a.missing)}")
    if a.industry and a.industry.unknown:
        lines.append(f"行业“{a.industry.text}”未对应到战略性新兴产业领域")
    for title, items in (("可获支持", a.measures), ("须做到", a.obligations),
                         ("下一步", a.next_steps)):
        if items:
            lines.append(f"{title}：")
            lines += [f"  - {i.text}（{clause_reference(i.citation)}）" for i in items]
    lines.append("理由：")
    lines += [f"  - [{r.rule}, {r.effect}] {r.reason}（{clause_reference(r.citation)}）"
              for r in a.reasons]
    lines.append(a.disclaimer)
    return "\n".join(lines)


def cmd_assess(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    engine = kb.eligibility_engine()
    try:
        # Loaded up front: a broken rules file is one error, not one per input line.
        rules = engine.rules
        if args.version:
            engine.versions[rules.doc_id] = args.version
        if args.check:
            return _check(engine)
    except DataFileError as exc:
        print(f"kb assess: invalid data file:\n{exc}", file=sys.stderr)
        return 2
    status = 0
    for number, text in _inputs(args.source):
        try:
            assessment = engine.assess(_parse(text))
        except ProfileError as exc:
            status = 1
            where = f"line {number}: " if args.source == "-" else ""
            if args.json:
                print(json.dumps({"error": f"{where}{exc}", "line": number},
                                 ensure_ascii=False), flush=True)
            else:
                print(f"kb assess: {where}{exc}", flush=True)
            continue
        if args.json:
            print(json.dumps(assessment.to_json(), ensure_ascii=False), flush=True)
        else:
            print(render_text(assessment) + ("\n" if args.source == "-" else ""), flush=True)
    return status


def _check(engine: EligibilityEngine) -> int:
    problems = engine.check()
    for problem in problems:
        print(problem)
    if not problems:
        rules = engine.rules
        print(f"ok: {len(rules.rules)} rules, {len(engine.classifier.lexicon.fields)} industry"
              f" fields, all cited clauses present")
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assess", help="assess an enterprise profile (JSON on stdin)")
    p.add_argument("source", nargs="?", choices=["-"],
                   help="- to read one profile per line (JSON Lines); default: one profile")
    p.add_argument("--json", action="store_true", help="print JSON (one line per profile)")
    p.add_argument("--check", action="store_true",
                   help="check the rules and the lexicon against the documents in force")
    p.add_argument("--version", help="quote this version of the opinion instead of the one"
                                     " in force (to audit an earlier assessment)")
    p.set_defaults(handler=cmd_assess)
