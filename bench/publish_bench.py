"""Publish benchmark: seconds from `publish` to the first answer served from the new version.

    .venv-actions/bin/python bench/publish_bench.py [--dense auto|none] [--pages 200]
                                                    [--out results/bench]

Not a test: numbers depend on the machine and its load (recorded). For each document:

1. ingest the shipped sources into a temporary home, add and publish version 1 of the
   document (for the opinion: the shipped 2019 text is version 1);
2. start a "running server": a Retriever made now, with the shipped reload check interval
   (KnowledgeSettings.reload_check_seconds, 2 s), warmed up with one query;
3. add version 2 (one item reworded), then time from the start of `publish_version` until
   that running Retriever first answers the probe question from version 2 (polled every
   50 ms). Reported: the publish (index build + switch) and the total to first new answer;
   for the synthetic document also its first publish (a new document: every unit encoded;
   an amended version reuses the vectors of unchanged units).

Documents: the opinion (the shipped raw text, amended as in bench/sample_documents.py) and a
SYNTHETIC document of --pages pages (doc_id "SYNTHETIC-200-PAGES": generated sections and items
whose sentences are recombined policy phrases with a serial number; NOT policy text, size
only: about 800 characters a page). Writes results/bench/publish-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sample_documents import amended_opinion  # noqa: E402
from knowledge.knowledge_base import KnowledgeBase  # noqa: E402
from knowledge.publishing.workflow import add_version, publish_version  # noqa: E402
from knowledge.retrieval.retriever import Retriever  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402

OPINION = "hebei-differentiated-control-opinion"
SYNTHETIC = "SYNTHETIC-200-PAGES"
CHARS_PER_PAGE = 800
_NUMERALS = "一二三四五六七八九十"
_PHRASES = ["严格环境准入", "推进深度治理", "实施差别化管控", "加强执法监管", "优化审批服务",
            "落实治污主体责任", "开展联合帮扶", "完善应急减排清单", "强化信息共享",
            "支持绿色技术改造", "规范行政处罚", "提升监测能力"]


def section_numeral(n: int) -> str:
    if n <= 10:
        return _NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _NUMERALS[tens - 1]) + "十" + (_NUMERALS[ones - 1] if ones else "")


def synthetic_document(pages: int, probe_text: str, seed: int = 7) -> str:
    """A generated policy-shaped text of about `pages` pages; item 一/1 carries probe_text."""
    rng = random.Random(seed)
    lines = ["合成基准测试文件（SYNTHETIC，非政策文本）", "本文件由基准脚本生成，仅用于衡量规模。"]
    chars, serial, section = 0, 0, 0
    while chars < pages * CHARS_PER_PAGE:
        section += 1
        lines.append(f"{section_numeral(section)}、合成第{section}部分")
        for item in range(1, 21):
            lines.append(f"{item}、合成条目{section}-{item}")
            body = probe_text if (section, item) == (1, 1) else "".join(
                f"编号{(serial := serial + 1)}的企业应当{rng.choice(_PHRASES)}，"
                f"并{rng.choice(_PHRASES)}。" for _ in range(3))
            lines.append(body)
            chars += len(body) + 10
            if chars >= pages * CHARS_PER_PAGE:
                break
    return "\n".join(lines)


def opinion_amended() -> str:
    return amended_opinion(remove_item_4=False)


def measure(kb: KnowledgeBase, doc_id: str, v2_path: Path, question: str, marker: str,
            title: str | None) -> dict:
    server = Retriever(kb.settings, kb.normalizer, kb.tokenizer, kb.encoder)
    server.search(question, 3)  # warm
    add_version(kb, v2_path, doc_id, "v2", "2025-01-01", title=title)
    started = time.perf_counter()
    report = publish_version(kb, doc_id, "v2")
    published = time.perf_counter() - started
    polls = 0
    while True:
        polls += 1
        hits = server.search(question, 3).hits
        if hits and hits[0].passage.version == "v2" and marker in hits[0].passage.text:
            break
        if time.perf_counter() - started > 600:
            raise RuntimeError("no answer from the new version within 10 minutes")
        time.sleep(0.05)
    total = time.perf_counter() - started
    passages = sum(1 for p in kb.served_passages() if p.doc_id == doc_id)
    return {"doc_id": doc_id, "passages": passages, "generation": report.generation,
            "publish_seconds": round(published, 3),
            "to_first_new_answer_seconds": round(total, 3), "polls": polls,
            "reload_check_seconds": kb.settings.reload_check_seconds,
            "citation": hits[0].passage.citation}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dense", default="auto", help="KB_DENSE_MODEL for the run (auto|none)")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        tmp_path = Path(tmp)
        kb = KnowledgeBase(KnowledgeSettings(home=tmp_path / "kb", dense_model=args.dense))
        kb.ingest_sources()
        (tmp_path / "opinion-v2.txt").write_text(opinion_amended(), encoding="utf-8")
        rows.append(("opinion (shipped size)", measure(
            kb, OPINION, tmp_path / "opinion-v2.txt", "重污染天气预警提前几天发布？",
            "提前2至3天", None)))

        probe_v1 = "合成探针条款要求企业每月报送一次蓝鲸监测数据。"
        probe_v2 = "合成探针条款要求企业每周报送一次蓝鲸监测数据。"
        (tmp_path / "syn-v1.txt").write_text(synthetic_document(args.pages, probe_v1),
                                             encoding="utf-8")
        (tmp_path / "syn-v2.txt").write_text(synthetic_document(args.pages, probe_v2),
                                             encoding="utf-8")
        add_version(kb, tmp_path / "syn-v1.txt", SYNTHETIC, "v1", "2020-01-01",
                    title="合成基准文件（SYNTHETIC）")
        t0 = time.perf_counter()
        publish_version(kb, SYNTHETIC, "v1")  # a new document: every unit encoded
        first = round(time.perf_counter() - t0, 3)
        rows.append((f"SYNTHETIC {args.pages} pages", dict(measure(
            kb, SYNTHETIC, tmp_path / "syn-v2.txt", "蓝鲸监测数据多久报送一次？", "每周", None),
            first_publish_seconds=first)))
        dense = kb.retriever.health()["dense"]["status"]

    print(f"dense leg: {dense}")
    print(f"{'document':<26} {'passages':>8} {'publish s':>10} {'to new answer s':>16}")
    for name, r in rows:
        print(f"{name:<26} {r['passages']:>8} {r['publish_seconds']:>10.2f}"
              f" {r['to_first_new_answer_seconds']:>16.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"publish-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({
        "dense": dense, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
        "results": [dict(r, name=n) for n, r in rows],
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"first publish of the SYNTHETIC document (all units encoded):"
          f" {rows[1][1]['first_publish_seconds']:.2f} s; 'to new answer' includes the running"
          f" retriever's reload check interval ({rows[0][1]['reload_check_seconds']:g} s)")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
