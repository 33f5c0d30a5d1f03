"""Builds an index generation from the store and switches to it atomically.

A generation is a directory holding the passages it was built from, the units the indexes
score (the passages, then the anticipated questions that point back at them), the BM25 index,
the dense index when an encoder is present, and a manifest. It is built under a temporary name
and renamed into place, then the CURRENT pointer file is replaced with os.replace, so readers
see either the old or the new generation, never a half-built one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from knowledge.anticipated import AnticipatedQuestion, IndexUnit, build_units
from knowledge.dense_index import FLAT_MAX_DEFAULT, DenseIndex
from knowledge.encoders import Encoder
from knowledge.lexical_index import LexicalIndex
from knowledge.models import Passage
from knowledge.tokenizer import ChineseTokenizer

log = logging.getLogger(__name__)

CURRENT_POINTER = "CURRENT"
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
UNITS = "units.jsonl"
DENSE_DIR = "dense"
FORMAT_VERSION = 2  # 2: units.jsonl (passages + anticipated questions), optional dense/


def current_generation(index_root: Path) -> Path | None:
    pointer = index_root / CURRENT_POINTER
    if not pointer.exists():
        return None
    path = index_root / pointer.read_text(encoding="utf-8").strip()
    return path if (path / MANIFEST).exists() else None


class IndexBuilder:
    def __init__(
        self,
        index_root: Path,
        tokenizer: ChineseTokenizer,
        *,
        encoder: Encoder | None = None,
        encoder_status: str = "",
        questions: list[AnticipatedQuestion] | None = None,
        question_problems: list[str] | None = None,
        normalize: Callable[[str], str] | None = None,
        dense_index: str = "auto",
        dense_flat_max: int = FLAT_MAX_DEFAULT,
    ) -> None:
        self.index_root = Path(index_root)
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.encoder_status = encoder_status or ("no encoder" if encoder is None else "")
        self.questions = questions or []
        self.question_problems = list(question_problems or [])
        self.normalize = normalize or (lambda s: s)
        self.dense_index = dense_index
        self.dense_flat_max = dense_flat_max

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
            units, problems = build_units(passages, self.questions, self.normalize)
            with (staging / UNITS).open("w", encoding="utf-8") as out:
                for u in units:
                    out.write(json.dumps(u.to_json(), ensure_ascii=False) + "\n")
            t0 = time.perf_counter()
            tokens = [self.tokenizer.tokenize(u.text) for u in units]
            LexicalIndex.build(tokens).save(staging / "bm25")
            bm25_seconds = time.perf_counter() - t0
            legs = {"bm25": {"path": "bm25", "tokenizer": "jieba-search+glossary",
                             "build_seconds": round(bm25_seconds, 3)}}
            legs["dense"] = self._build_dense(units, staging / DENSE_DIR)
            manifest = {
                "format": FORMAT_VERSION,
                "generation": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "passages": len(passages),
                "units": len(units),
                "anticipated_questions": {
                    "units": sum(u.kind == "question" for u in units),
                    "problems": self.question_problems + problems,
                },
                "documents": sorted({f"{p.doc_id}@{p.version}" for p in passages}),
                "legs": legs,
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

    def _build_dense(self, units: list[IndexUnit], directory: Path) -> dict:
        if self.encoder is None:
            return {"status": "off", "reason": self.encoder_status}
        t0 = time.perf_counter()
        vectors = self.encoder.encode_passages([u.text for u in units])
        encode_seconds = time.perf_counter() - t0
        index = DenseIndex.build(vectors, self.dense_index, self.dense_flat_max)
        index.save(directory)
        log.info("dense index: %d vectors, %s, encoded in %.1fs", index.size, index.kind,
                 encode_seconds)
        return {"status": "on", "path": DENSE_DIR, "model": self.encoder.name,
                "dim": index.dim, "kind": index.kind,
                "encode_seconds": round(encode_seconds, 3),
                "build_seconds": round(time.perf_counter() - t0, 3)}

    def _point_to(self, name: str) -> None:
        tmp = self.index_root / f".{CURRENT_POINTER}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, self.index_root / CURRENT_POINTER)

    def _prune(self, keep: int) -> None:
        """Old generations stay briefly so that readers mid-swap can finish."""
        gens = sorted(p for p in self.index_root.glob("gen-*") if p.is_dir())
        for old in gens[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
