"""Builds an index generation from the store and switches to it atomically.

A generation is a directory holding the passages it was built from, the BM25 index and a
manifest. It is built under a temporary name and renamed into place, then the CURRENT
pointer file is replaced with os.replace, so readers see either the old or the new
generation, never a half-built one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from knowledge.lexical_index import LexicalIndex
from knowledge.models import Passage
from knowledge.tokenizer import ChineseTokenizer

CURRENT_POINTER = "CURRENT"
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
FORMAT_VERSION = 1


def current_generation(index_root: Path) -> Path | None:
    pointer = index_root / CURRENT_POINTER
    if not pointer.exists():
        return None
    path = index_root / pointer.read_text(encoding="utf-8").strip()
    return path if (path / MANIFEST).exists() else None


class IndexBuilder:
    def __init__(self, index_root: Path, tokenizer: ChineseTokenizer) -> None:
        self.index_root = Path(index_root)
        self.tokenizer = tokenizer

    def build(self, passages: list[Passage], keep: int = 3) -> Path:
        if not passages:
            raise ValueError("no passages to index: ingest a document first")
        self.index_root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        staging = self.index_root / f".building-{name}"
        started = time.perf_counter()
        try:
            staging.mkdir()
            with (staging / PASSAGES).open("w", encoding="utf-8") as out:
                for p in passages:
                    out.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
            tokens = [self.tokenizer.tokenize(p.index_text()) for p in passages]
            LexicalIndex.build(tokens).save(staging / "bm25")
            manifest = {
                "format": FORMAT_VERSION,
                "generation": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "passages": len(passages),
                "documents": sorted({f"{p.doc_id}@{p.version}" for p in passages}),
                "legs": {"bm25": {"path": "bm25", "tokenizer": "jieba-search+glossary"}},
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            (staging / MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            final = self.index_root / name
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._point_to(name)
        self._prune(keep)
        return final

    def _point_to(self, name: str) -> None:
        tmp = self.index_root / f".{CURRENT_POINTER}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, self.index_root / CURRENT_POINTER)

    def _prune(self, keep: int) -> None:
        """Old generations stay briefly so that readers mid-swap can finish."""
        gens = sorted(p for p in self.index_root.glob("gen-*") if p.is_dir())
        for old in gens[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
