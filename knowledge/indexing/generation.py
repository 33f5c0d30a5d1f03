"""An index generation: one directory that holds everything a retriever serves from.

The directory holds the passages the generation was built from, the units the indexes score
(the passages, then the anticipated questions that point back at them), the BM25 index, the
dense index when an encoder was present, and a manifest naming each part. Only this module
knows those file names: the builder hands it the parts and calls `save`, the retriever calls
`load` (the same pair bm25s uses for one index, here for the whole generation).

Generations live side by side under an index root; the file CURRENT names the live one and is
replaced atomically (`point_current_to`), so readers see the old or the new generation, never
a half-built one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.indexing.anticipated import PASSAGE, IndexUnit
from knowledge.indexing.dense_index import DenseIndex
from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.models import Passage

CURRENT_POINTER = "CURRENT"
MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # 2: units.jsonl (passages + anticipated questions), optional dense/
_PASSAGES = "passages.jsonl"
_UNITS = "units.jsonl"
_LEXICAL_DIR = "bm25"
_DENSE_DIR = "dense"


@dataclass(frozen=True)
class IndexGeneration:
    """The parts of one generation; `manifest` describes how and from what it was built.

    `dense` is None when the generation has no dense vectors, or when `load` was asked for
    another model's vectors than the ones stored.
    """

    passages: list[Passage]
    units: list[IndexUnit]
    lexical: LexicalIndex
    manifest: dict = field(default_factory=dict)
    dense: DenseIndex | None = None

    @property
    def name(self) -> str:
        return str(self.manifest.get("generation", ""))

    @property
    def dense_model(self) -> str | None:
        """The model whose vectors the generation stores, or None when it stores none."""
        leg = (self.manifest.get("legs") or {}).get("dense") or {}
        return leg.get("model") if leg.get("status") == "on" else None

    def save(self, directory: Path) -> None:
        """Writes every part into `directory` (which must not exist yet), manifest last."""
        directory.mkdir()
        _write_jsonl(directory / _PASSAGES, (asdict(p) for p in self.passages))
        _write_jsonl(directory / _UNITS, (u.to_json() for u in self.units))
        self.lexical.save(directory / _LEXICAL_DIR)
        manifest = dict(self.manifest, format=FORMAT_VERSION)
        legs = dict(manifest.get("legs") or {})
        legs["bm25"] = dict(legs.get("bm25") or {}, path=_LEXICAL_DIR)
        if self.dense is not None:
            self.dense.save(directory / _DENSE_DIR)
            legs["dense"] = dict(legs.get("dense") or {}, status="on", path=_DENSE_DIR)
        manifest["legs"] = legs
        (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                          encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, *, dense_model: str | None = None) -> IndexGeneration:
        """Reads a generation; its dense index only when it was built with `dense_model`."""
        manifest = read_manifest(directory)
        with (directory / _PASSAGES).open(encoding="utf-8") as f:
            passages = [Passage(**json.loads(line)) for line in f]
        if (directory / _UNITS).exists():
            with (directory / _UNITS).open(encoding="utf-8") as f:
                units = [IndexUnit.from_json(json.loads(line)) for line in f]
        else:  # format 1: the passages were the only units
            units = [IndexUnit(PASSAGE, p.index_text(), (i,)) for i, p in enumerate(passages)]
        legs = manifest.get("legs") or {}
        lexical = LexicalIndex.load(directory / (legs.get("bm25") or {}).get("path", _LEXICAL_DIR))
        generation = cls(passages, units, lexical, manifest)
        if dense_model is not None and generation.dense_model == dense_model:
            dense = DenseIndex.load(directory / legs["dense"].get("path", _DENSE_DIR))
            generation = cls(passages, units, lexical, manifest, dense)
        return generation


def read_manifest(directory: Path) -> dict:
    return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))


def current_generation(index_root: Path) -> Path | None:
    """The directory of the live generation, or None before the first build."""
    pointer = index_root / CURRENT_POINTER
    if not pointer.exists():
        return None
    path = index_root / pointer.read_text(encoding="utf-8").strip()
    return path if (path / MANIFEST).exists() else None


def point_current_to(index_root: Path, name: str) -> None:
    """Makes generation `name` the live one in one atomic rename."""
    tmp = index_root / f".{CURRENT_POINTER}.{uuid.uuid4().hex[:6]}"
    tmp.write_text(name, encoding="utf-8")
    os.replace(tmp, index_root / CURRENT_POINTER)


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
