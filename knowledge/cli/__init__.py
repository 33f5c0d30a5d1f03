"""`bin/kb`: the knowledge base from the command line (runs in the action runtime).

One module per area, each with a `register(subparsers)` function listed in COMMANDS:
`search` (search, ingest), `evaluate` (eval), `assess` (eligibility), `publish` (add, versions,
diff, publish), `successors`. Nothing below the CLI imports it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from knowledge.cli.assess import register as register_assess
from knowledge.cli.evaluate import register as register_eval
from knowledge.cli.publish import register as register_publish
from knowledge.cli.search import register as register_search
from knowledge.cli.successors import register as register_successors
from knowledge.knowledge_base import KnowledgeBase
from knowledge.models import KnowledgeBaseUnavailable

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    register_search, register_eval, register_assess, register_publish, register_successors,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kb", description="Policy knowledge base")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.handler(args, KnowledgeBase.from_env())
    except KnowledgeBaseUnavailable as exc:
        print(f"kb: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0

