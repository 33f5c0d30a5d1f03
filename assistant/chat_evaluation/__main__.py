"""`make chat-eval`: the product measure. Starts a real action server and Rasa server on free
ports with a fresh knowledge base (the KB_* settings of the environment, e.g.
KB_RELATED_SOURCES=true for the whole corpus), talks to them over REST as owners would, and
reports per set: right / wrong / declined answers, rejected / invented out-of-scope probes,
passed / failed dialogues, and the turn latency. Table on stdout, details in
results/chat/chat_eval.json. Exit 0 when it ran, whatever the numbers (a report, not a test).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import yaml

from assistant.chat_evaluation.grading import ALWAYS_FORBIDDEN, DocumentNames
from assistant.chat_evaluation.runner import ChatClient, ChatEvaluation, SetResult
from assistant.chat_evaluation.sets import HALVES, load_paths
from assistant.model_builder import ensure_model
from assistant.scaleout.ports import free_port
from assistant.servers import action_server, rasa_server
from assistant.settings import RuntimeSettings
from knowledge.evaluation.retrieval_eval import percentile
from knowledge.ingestion.ingest import read_manifest
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings

# The targets, shown beside the numbers (issue 16).
RIGHT_TARGET = 0.90
WRONG_LIMIT = 0.03


def core_fallback_pattern(domain_file: Path) -> str:
    """Rasa's core fallback reply (utter_default), which no scripted turn may ever get."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8"))
    text = domain["responses"]["utter_default"][0]["text"]
    return re.escape(text.split("。")[0])


def document_names(settings: KnowledgeSettings) -> dict[str, tuple[str, ...]]:
    """Every name a citation may give each document (both manifests, whether the related
    rules are served or not: a law gold stays resolvable)."""
    entries = read_manifest(settings.sources_manifest, settings.related_manifest)
    return {e.info.doc_id: tuple(n for n in (e.info.title.strip("《》"), e.info.short_title,
                                             *e.info.aliases) if n)
            for e in entries}


def print_report(results: list[SetResult], latencies: list[float]) -> None:
    print(f"\n{'set':<28}{'n':>5}  outcome rates")
    for r in results:
        if r.kind == "answers":
            flag = "ok" if r.rate("right") >= RIGHT_TARGET and r.rate("wrong") <= WRONG_LIMIT \
                else "below target"
            rates = (f"right {r.rate('right'):.3f}  wrong {r.rate('wrong'):.3f}  "
                     f"declined {r.rate('declined'):.3f}  clarified {r.rate('clarified'):.3f}"
                     f" (+{r.counts['clarified_without_gold']} without the gold)"
                     f"   ({flag}: right >= {RIGHT_TARGET}, "
                     f"wrong <= {WRONG_LIMIT})")
        elif r.kind == "out_of_scope":
            rates = (f"rejected {r.rate('rejected'):.3f}  invented {r.counts['invented']}"
                     "   (target: 0 invented)")
        else:
            rates = f"passed {r.counts['passed']}/{r.total}"
        print(f"{r.name:<28}{r.total:>5}  {rates}")
    if latencies:
        print(f"\nturns {len(latencies)}: median {statistics.median(latencies):.0f} ms, "
              f"p95 {percentile(latencies, 0.95):.0f} ms (one client, sequential)")
    for r in results:
        for item in r.items:
            if r.kind == "dialogues" and not item["passed"]:
                failed = next(t for t in item["turns"] if t["failures"])
                print(f"  FAIL {r.name}/{item['name']}: {failed['user']!r} -> "
                      f"{'; '.join(failed['failures'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", type=Path, nargs="*", default=None,
                        help="directories or files (default: eval/chat); a file is evaluated"
                        " whatever its half, e.g. eval/law_owners_heldout.tsv")
    parser.add_argument("--half", choices=[*HALVES, "all"], default="all")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/chat/chat_eval.json")
    args = parser.parse_args()
    base = RuntimeSettings()
    sets = load_paths(args.sets or [base.root / "eval" / "chat"],
                      HALVES if args.half == "all" else (args.half,))
    if not sets:
        print("no evaluation sets found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="chat-eval-") as tmp:
        var = Path(tmp)
        runtime = base.model_copy(update={"rasa_port": free_port(), "action_port": free_port(),
                                          "var_dir": var / "var"})
        kb_settings = KnowledgeSettings(home=var / "kb")
        kb = KnowledgeBase(kb_settings)
        kb.ingest_sources()
        documents = DocumentNames(document_names(kb_settings))
        model = ensure_model(base)
        actions = action_server(runtime, env={"KB_HOME": str(kb_settings.home)})
        rasa = rasa_server(runtime, model)
        actions.start()
        try:
            actions.wait_healthy(300)
            rasa.start()
            try:
                rasa.wait_healthy(runtime.startup_timeout)
                with httpx.Client(timeout=60) as client:
                    chat = ChatClient(f"http://{runtime.host}:{runtime.rasa_port}"
                                      "/webhooks/rest/webhook", client)
                    forbidden = (*ALWAYS_FORBIDDEN, core_fallback_pattern(base.root / "domain.yml"))
                    results = ChatEvaluation(chat, documents, forbidden).run(sets)
            finally:
                rasa.stop()
        finally:
            actions.stop()
    print_report(results, chat.latencies_ms)
    out = args.out or base.root / "results" / "chat" / "chat_eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "related_sources": kb_settings.related_sources,
        "dense_model": kb_settings.dense_model,
        "latency_ms": {"median": statistics.median(chat.latencies_ms) if chat.latencies_ms else 0,
                       "p95": percentile(chat.latencies_ms, 0.95)},
        "sets": [r.to_json() for r in results]}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\ndetails: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
