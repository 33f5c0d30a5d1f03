"""Where the trained model sends questions it was never trained on (run in Rasa's runtime).

Cross-validation scores the NLU data against itself; this check takes the retrieval question
sets (../shared/eval and eval/: real policy questions, colloquial ones, and out-of-scope ones)
and counts how the served model routes them. An in-scope question is routed right when it
reaches the knowledge base (ask_policy, ask_measures, ask_category) or falls back (the policy
action still tries the knowledge base); an out-of-scope one when it is `out_of_scope` or falls
back. Prints a table and writes results/nlu/routing.json. Usage:

    .venv-rasa/bin/python bench/nlu_routing.py [models/policy-assistant-*.tar.gz]
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from Rasa's runtime

from knowledge.question_sets import question_texts  # noqa: E402

SHARED_EVAL = ROOT.parent / "shared" / "eval"
KNOWLEDGE_BASE_INTENTS = {"ask_policy", "ask_measures", "ask_category"}
# A law question reaches the knowledge base from these (out_of_scope too: the knowledge base
# decides before the scope reply); ask_category and inform_enterprise start the questionnaire.
LAW_QUESTION_INTENTS = {"ask_policy", "ask_measures", "out_of_scope"}
FALLBACK = "nlu_fallback"


def question_sets() -> dict[str, tuple[list[str], set[str]]]:
    in_scope = [*sorted(SHARED_EVAL.glob("retrieval_*.tsv")),
                *sorted((ROOT / "eval").glob("retrieval_*.tsv"))]
    out_of_scope = sorted((ROOT / "eval").glob("out_of_scope*.txt"))
    laws = [*sorted((ROOT / "eval").glob("law*_heldout.tsv")),
            *sorted((ROOT / "eval").glob("penalty_procedure_heldout.tsv"))]
    return {
        "in scope": ([q for p in in_scope for q in question_texts(p)], KNOWLEDGE_BASE_INTENTS),
        "out of scope": ([q for p in out_of_scope for q in question_texts(p)], {"out_of_scope"}),
        "law questions": ([q for p in laws for q in question_texts(p)], LAW_QUESTION_INTENTS),
    }


async def route(model: Path) -> dict[str, dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    report = {}
    for name, (texts, right) in question_sets().items():
        counts: Counter[str] = Counter()
        wrong = []
        for text in texts:
            intent = (await agent.parse_message(text))["intent"]["name"]
            counts[intent] += 1
            if intent not in right and intent != FALLBACK:
                wrong.append({"text": text, "intent": intent})
        report[name] = {"questions": len(texts), "right": sum(counts[i] for i in right),
                        "fallback": counts[FALLBACK], "wrong": wrong, "intents": dict(counts)}
    return report


def main() -> int:
    models = sorted((ROOT / "models").glob("policy-assistant-*.tar.gz"))
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else (models[-1] if models else None)
    if model is None:
        print("no trained model: run `make model` first", file=sys.stderr)
        return 1
    report = asyncio.run(route(model))
    print(f"\n{'questions':<14}{'n':>5}{'right':>7}{'fallback':>10}{'wrong':>7}")
    for name, r in report.items():
        print(f"{name:<14}{r['questions']:>5}{r['right']:>7}{r['fallback']:>10}{len(r['wrong']):>7}")
        for w in r["wrong"]:
            print(f"    {w['text']} -> {w['intent']}")
    out = ROOT / "results" / "nlu" / "routing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": model.name, **report}, ensure_ascii=False, indent=2),
                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
