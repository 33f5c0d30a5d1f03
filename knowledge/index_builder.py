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

import numpy as np

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

    def build(self, passages: list[Passage], keep: int = 3,
              progress: Callable[[str], None] | None = None) -> Path:
        """Builds under `.building-*`, renames into place, then switches CURRENT to it.

        Any exception (or interrupt) before the switch removes the staging directory and
        leaves CURRENT, and so the live generation, as it was. `progress` gets stage messages.
        """
        say = progress or (lambda _msg: None)
        if not passages:
            raise ValueError("no passages to index: ingest a document first")
        self.index_root.mkdir(parents=True, exist_ok=True)
        millis = int(time.time() * 1000) % 1000  # names sort in build order within a second
        name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}{millis:03d}-{uuid.uuid4().hex[:6]}"
        self._remove_stale_staging()
        staging = self.index_root / f".building-{name}"
        started = time.perf_counter()
        try:
            staging.mkdir()
            with (staging / PASSAGES).open("w", encoding="utf-8") as out:
                for p in passages:
                    out.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
            say(f"{len(passages)} passages written; building index units")
            units, problems = build_units(passages, self.questions, self.normalize)
            with (staging / UNITS).open("w", encoding="utf-8") as out:
                for u in units:
                    out.write(json.dumps(u.to_json(), ensure_ascii=False) + "\n")
            t0 = time.perf_counter()
            say(f"BM25 over {len(units)} units")
            tokens = [self.tokenizer.tokenize(u.text) for u in units]
            LexicalIndex.build(tokens).save(staging / "bm25")
            bm25_seconds = time.perf_counter() - t0
            legs = {"bm25": {"path": "bm25", "tokenizer": "jieba-search+glossary",
                             "build_seconds": round(bm25_seconds, 3)}}
            if self.encoder is not None:
                say(f"encoding {len(units)} units with {self.encoder.name}")
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
        say(f"generation {name} is live ({time.perf_counter() - started:.1f}s)")
        return final

    def _build_dense(self, units: list[IndexUnit], directory: Path) -> dict:
        if self.encoder is None:
            return {"status": "off", "reason": self.encoder_status}
        t0 = time.perf_counter()
        texts = [u.text for u in units]
        reused = self._previous_vectors(set(texts))
        todo = [t for t in dict.fromkeys(texts) if t not in reused]
        if todo:
            fresh = self.encoder.encode_passages(todo)
            reused.update(zip(todo, np.asarray(fresh, dtype=np.float32), strict=True))
        vectors = np.stack([reused[t] for t in texts]).astype(np.float32)
        encode_seconds = time.perf_counter() - t0
        index = DenseIndex.build(vectors, self.dense_index, self.dense_flat_max)
        index.save(directory)
        log.info("dense index: %d vectors (%d encoded, the rest reused), %s, in %.1fs",
                 index.size, len(todo), index.kind, encode_seconds)
        return {"status": "on", "path": DENSE_DIR, "model": self.encoder.name,
                "dim": index.dim, "kind": index.kind,
                "encoded": len(todo), "reused": len(texts) - len(todo),
                "encode_seconds": round(encode_seconds, 3),
                "build_seconds": round(time.perf_counter() - t0, 3)}

    def _previous_vectors(self, wanted: set[str]) -> dict[str, np.ndarray]:
        """Vectors of unchanged unit texts from the live generation, if it was built with the
        same model: a publish then encodes only the new or reworded units (seconds, not
        minutes, beside a large document). Any problem just means encoding everything."""
        live = current_generation(self.index_root)
        if live is None or self.encoder is None:
            return {}
        try:
            manifest = json.loads((live / MANIFEST).read_text(encoding="utf-8"))
            leg = (manifest.get("legs") or {}).get("dense") or {}
            if leg.get("status") != "on" or leg.get("model") != self.encoder.name:
                return {}
            with (live / UNITS).open(encoding="utf-8") as f:
                old_texts = [json.loads(line)["text"] for line in f]
            ids = [i for i, t in enumerate(old_texts) if t in wanted]
            if not ids:
                return {}
            index = DenseIndex.load(live / leg.get("path", DENSE_DIR))
            vectors = index.vectors(np.asarray(ids, dtype=np.int64))
            return {old_texts[i]: v for i, v in zip(ids, vectors, strict=True)}
        except Exception as exc:  # reuse is an optimisation only
            log.warning("not reusing vectors of %s: %s", live.name, exc)
            return {}

    def _point_to(self, name: str) -> None:
        tmp = self.index_root / f".{CURRENT_POINTER}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, self.index_root / CURRENT_POINTER)

    def _prune(self, keep: int) -> None:
        """Old generations stay briefly so that readers mid-swap can finish."""
        live = current_generation(self.index_root)
        gens = sorted(p for p in self.index_root.glob("gen-*") if p.is_dir())
        for old in gens[:-keep]:
            if live is None or old.name != live.name:
                shutil.rmtree(old, ignore_errors=True)

    def _remove_stale_staging(self, older_than_s: float = 3600) -> None:
        """A build killed outright (SIGKILL, power) cannot clean up after itself: its staging
        directory is never served (CURRENT never names it) and is removed by a later build."""
        now = time.time()
        for path in self.index_root.glob(".building-*"):
            try:
                if now - path.stat().st_mtime > older_than_s:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue
