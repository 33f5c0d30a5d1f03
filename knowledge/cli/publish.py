"""`bin/kb add / versions / diff / publish`: document versions from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.ingestion.sandbox import read_document_isolated
from knowledge.knowledge_base import KnowledgeBase
from knowledge.publishing.diff import UNCHANGED, VersionDiff
from knowledge.publishing.workflow import (
    PublishRefused,
    add_version,
    diff_versions,
    document_ids,
    publish_version,
    version_rows,
)


def _dump(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _fail(message: str, code: int = 2) -> int:
    print(f"kb: {message}", file=sys.stderr)
    return code


def _counts(d: VersionDiff) -> str:
    c = d.counts
    return (f"{c['changed']} changed, {c['added']} added, {c['removed']} removed,"
            f" {c['renumbered']} renumbered, {c['unchanged']} unchanged")


def cmd_add(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    try:
        # The file is read in a worker process with time and memory limits (sandbox.py);
        # doc id and version are checked before it is read.
        report = add_version(kb, Path(args.file), args.doc_id, args.version, args.effective,
                             title=args.title, expires=args.expires,
                             read=read_document_isolated)
    except (ValueError, LookupError, OSError) as exc:
        return _fail(str(exc))
    if args.json:
        _dump(report.to_json())
        return 0
    p = report.parsed
    verb = "replaced draft" if report.replaced_draft else "added draft"
    print(f"{verb} {p.info.doc_id}@{p.info.version} (effective {p.info.effective}"
          f"{', expires ' + p.info.expires if p.info.expires else ''}): {len(p.sections)}"
          f" sections, {len(p.clauses)} clauses, {len(p.passages)} passages;"
          f" not served until `bin/kb publish {p.info.doc_id} {p.info.version}`")
    for line in p.unplaced_lines:
        print(f"  could not place: {line[:70]}")
    if report.diff is not None:
        print(f"  compared with {report.compared_with} (in force): {_counts(report.diff)};"
              f" see `bin/kb diff {p.info.doc_id} {report.compared_with} {p.info.version}`")
    return 0


def cmd_versions(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    doc_ids = [args.doc_id] if args.doc_id else document_ids(kb)
    try:
        rows = {d: version_rows(kb, d) for d in doc_ids}
    except LookupError as exc:
        return _fail(str(exc))
    if args.json:
        _dump(rows[args.doc_id] if args.doc_id else rows)
        return 0
    for doc_id, versions in rows.items():
        head = versions[-1]
        kind = f" [{head['doc_type_name']}]" if head["doc_type_name"] else ""
        print(f"{doc_id}{kind}: {len(versions)} version(s)")
        for r in versions:
            ends = r["repealed"] or r["expires"]
            until = f" → {ends}" if ends else ""
            files = r["source_file"].split(", ")
            source = files[0] if len(files) == 1 else f"{len(files)} files: {files[0]} …"
            print(f"  {r['version']:<12} {r['status']:<11} effective {r['effective']}{until}"
                  f"  {r['clauses']} clauses  {source}")
        relations = head["relations"]
        for label, key in (("repeals", "repeals"), ("repealed by", "repealed_by")):
            if relations[key]:
                print(f"  {label}: {', '.join(x['doc_id'] for x in relations[key])}")
        if relations["rests_on"]:
            print(f"  rests on: {', '.join(x['ref'] for x in relations['rests_on'])}")
    return 0


def cmd_diff(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    try:
        d = diff_versions(kb, args.doc_id, args.v1, args.v2)
    except LookupError as exc:
        return _fail(str(exc))
    if args.json:
        _dump(d.to_json())
        return 0
    print(f"{d.doc_id}: {d.old_version} → {d.new_version}: {_counts(d)}")
    if d.limited:
        print("note: some clauses were too long (or too many changed) to compare character by"
              " character; their changed span is shown whole")
    for c in d.changes:
        if c.kind == UNCHANGED:
            continue
        keys = {"added": f"+ {c.new_key}", "removed": f"- {c.old_key}"}.get(
            c.kind, f"~ {c.old_key}" + (f" → {c.new_key}" if c.new_key != c.old_key else ""))
        print(f"\n{c.kind.upper():<10} {keys}（{c.title}）")
        if c.text_diff:
            print("    " + c.text_diff.replace("\n", "\n    "))
        for who in c.citers:
            print(f"    ! cited by {who}: review before publishing")
    review = d.needs_review()
    print(f"\n{len(review)} citation(s) in the eligibility data need review"
          if review else "\nno eligibility rule cites a changed or removed clause")
    return 0


def cmd_publish(args: argparse.Namespace, kb: KnowledgeBase) -> int:
    progress = None if args.json else (lambda m: print(f"  … {m}", file=sys.stderr, flush=True))
    try:
        report = publish_version(kb, args.doc_id, args.version, progress=progress)
    except PublishRefused as exc:
        if args.json:
            _dump({"published": False, "doc_id": exc.doc_id, "version": exc.version,
                   "problems": exc.problems})
        print(f"kb: {exc}", file=sys.stderr)
        return 4
    except (LookupError, ValueError) as exc:
        return _fail(str(exc))
    if args.json:
        _dump({"published": True, **report.to_json()})
        return 0
    print(f"published {report.doc_id}@{report.version}: {report.status}"
          f" (before: {report.previous or 'none'}); index generation {report.generation}"
          f" live in {report.seconds:.1f}s; running servers switch within"
          f" {kb.settings.reload_check_seconds:g}s")
    for line in report.review:
        print(f"  review: {line}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add", help="parse a document file and store it as a draft version")
    p.add_argument("file", help=".txt, .docx, .html or text-layer .pdf")
    p.add_argument("--doc-id", required=True,
                   help="letters, digits, '.', '_' or '-', starting with a letter or digit")
    p.add_argument("--version", required=True, help="same characters as --doc-id, e.g. 2025")
    p.add_argument("--effective", required=True, help="YYYY-MM-DD")
    p.add_argument("--expires", help="YYYY-MM-DD, the first day it no longer applies")
    p.add_argument("--title", help="official title (default: the document's current title)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("versions", help="documents, their versions, status and relations")
    p.add_argument("doc_id", nargs="?", help="one document (default: every document)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_versions)

    p = sub.add_parser("diff", help="clause-by-clause changes between two versions")
    p.add_argument("doc_id")
    p.add_argument("v1")
    p.add_argument("v2")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_diff)

    p = sub.add_parser("publish", help="publish a version and switch the live index to it")
    p.add_argument("doc_id")
    p.add_argument("version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_publish)
