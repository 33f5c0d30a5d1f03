"""Builds an index generation from the store's passages and switches to it atomically.

The generation (knowledge/indexing/generation.py) is written under a temporary name and
renamed into place, then CURRENT is pointed at it, so readers see either the old or the new
generation, never a half-built one.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from knowledge.indexing.anticipated import AnticipatedQuestion, IndexUnit, build_units
from knowledge.indexing.dense_index import FLAT_MAX_DEFAULT, DenseIndex
from knowledge.indexing.encoders import Encoder
from knowledge.indexing.generation import IndexGeneration, current_generation, point_current_to
from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.indexing.vector_cache import VectorCache, encode_with_cache
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import Passage

log = logging.getLogger(__name__)


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
        vector_cache: VectorCache | None = None,
    ) -> None:
        """`vector_cache`: encoded vectors shared across homes (vector_cache.py); units the
        live generation does not have are looked up there before they are encoded."""
        self.index_root = Path(index_root)
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.encoder_status = encoder_status or ("no encoder" if encoder is None else "")
        self.questions = questions or []
        self.question_problems = list(question_problems or [])
        self.normalize = normalize or (lambda s: s)
        self.dense_index = dense_index
        self.dense_flat_max = dense_flat_max
        self.vector_cache = vector_cache

    def build(self, passages: list[Passage], keep: int = 3,
              progress: Callable[[str], None] | None = None,
              documents: dict[str, dict] | None = None,
              before_switch: Callable[[Path], None] | None = None) -> Path:
        """Builds under `.building-*`, renames into place, then switches CURRENT to it.

        `before_switch` gets the complete staging directory before it goes live: what belongs
        with the generation but needs it built first (the learned ranker) is added there.

        `documents`: doc_id -> what answers need to know of it (title, type, `in_force`);
        passages of a document not in force are indexed but only searched on request (audit,
        the old text of a repealed law).

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
            say(f"{len(passages)} passages; building index units")
            units, problems = build_units(passages, self.questions, self.normalize)
            t0 = time.perf_counter()
            say(f"BM25 over {len(units)} units")
            lexical = LexicalIndex.build([self.tokenizer.tokenize(u.text) for u in units])
            legs = {"bm25": {"tokenizer": "jieba-search+glossary",
                             "build_seconds": round(time.perf_counter() - t0, 3)}}
            if self.encoder is not None:
                say(f"encoding {len(units)} units with {self.encoder.name}")
            dense, legs["dense"] = self._build_dense(units)
            manifest = {
                "generation": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "passages": len(passages),
                "units": len(units),
                "anticipated_questions": {
                    "units": sum(u.kind == "question" for u in units),
                    "problems": self.question_problems + problems,
                },
                "documents": sorted({f"{p.doc_id}@{p.version}" for p in passages}),
                "document_info": documents or {},
                "legs": legs,
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            IndexGeneration(passages, units, lexical, manifest, dense).save(staging)
            if before_switch is not None:
                before_switch(staging)
            final = self.index_root / name
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        point_current_to(self.index_root, name)
        self._prune(keep)
        say(f"generation {name} is live ({time.perf_counter() - started:.1f}s)")
        return final

    def _build_dense(self, units: list[IndexUnit]) -> tuple[DenseIndex | None, dict]:
        if self.encoder is None:
            return None, {"status": "off", "reason": self.encoder_status}
        t0 = time.perf_counter()
        texts = [u.text for u in units]
        known = self._previous_vectors(set(texts))
        if self.vector_cache is not None and known:
            # A home built before the cache existed fills it (texts it has are left alone).
            self.vector_cache.put_many(self.encoder.name, list(known),
                                       np.stack(list(known.values())))
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        found, cached = encode_with_cache(self.encoder.encode_passages, self.encoder.name, todo,
                                          self.vector_cache, getattr(self.encoder, "dim", None))
        known.update(found)
        encoded = len(todo) - cached
        vectors = np.stack([known[t] for t in texts]).astype(np.float32)
        encode_seconds = time.perf_counter() - t0
        index = DenseIndex.build(vectors, self.dense_index, self.dense_flat_max)
        log.info("dense index: %d vectors (%d encoded, %d from the vector cache, the rest"
                 " reused), %s, in %.1fs", index.size, encoded, cached, index.kind,
                 encode_seconds)
        # encoded + cached + reused = units: a text shared by two units is encoded (or taken
        # from the cache) once, and its other unit counts as reused.
        return index, {"status": "on", "model": self.encoder.name,
                       "dim": index.dim, "kind": index.kind,
                       "encoded": encoded, "cached": cached,
                       "reused": len(texts) - len(todo),
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
            previous = IndexGeneration.load(live, dense_model=self.encoder.name)
            if previous.dense is None:
                return {}
            ids = [i for i, u in enumerate(previous.units) if u.text in wanted]
            if not ids:
                return {}
            vectors = previous.dense.vectors(np.asarray(ids, dtype=np.int64))
            return {previous.units[i].text: v for i, v in zip(ids, vectors, strict=True)}
        except Exception as exc:  # reuse is an optimisation only
            log.warning("not reusing vectors of %s: %s", live.name, exc)
            return {}

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
