"""One index generation as a process serves it: the stored indexes plus what searching needs of
them, computed once at load (document masks, passage traits, article positions, successor and
legal-basis links, and the learned ranker stored with the generation)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from knowledge.indexing.anticipated import IndexUnit
from knowledge.indexing.dense_index import DenseIndex
from knowledge.indexing.encoders import Encoder
from knowledge.indexing.generation import IndexGeneration
from knowledge.indexing.lexical_index import LexicalIndex
from knowledge.indexing.vector_cache import encode_with_cache, open_vector_cache
from knowledge.models import LEGISLATION_TYPES, Passage
from knowledge.retrieval.article_reference import (
    LegalBasisMap,
    SuccessorMap,
    load_legal_basis,
    load_successors,
)
from knowledge.retrieval.candidates import PassageTraits
from knowledge.retrieval.cross_references import CrossReferenceMap, load_cross_references
from knowledge.retrieval.document_ranking import DocumentMasks, RankingCues
from knowledge.retrieval.ranker import RANKER_DIR, LearnedRanker
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

SUCCESSORS_FILE = "successors.yml"  # knowledge/data/: written by `bin/kb successors --write`
LEGAL_BASIS_FILE = "legal_basis.yml"  # knowledge/data/: the laws an opinion clause rests on
# knowledge/data/: articles in force that point to a repealed law, and what governs now
CROSS_REFERENCES_FILE = "cross_references.yml"
# A generation built without dense vectors is encoded on load when it is this small.
ENCODE_ON_LOAD_MAX_UNITS = 2000


@dataclass(frozen=True)
class LoadedGeneration:
    name: str
    path: Path
    passages: list[Passage]
    units: list[IndexUnit]
    lexical: LexicalIndex
    traits: PassageTraits
    manifest: dict = field(default_factory=dict)
    dense: DenseIndex | None = None
    dense_status: str = ""
    loaded_at: float = 0.0  # UNIX time this process started serving it
    documents: dict[str, dict] = field(default_factory=dict)  # doc_id -> manifest record
    not_in_force: np.ndarray | None = None  # passage mask: its text is not in force
    masks: DocumentMasks | None = None
    articles: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # -> passages
    successors: SuccessorMap = field(default_factory=dict)
    basis: LegalBasisMap = field(default_factory=dict)
    ranker: LearnedRanker | None = None
    cross_references: CrossReferenceMap = field(default_factory=dict)

    @cached_property
    def passage_index(self) -> dict[str, int]:
        """passage_id -> position, for looking up what an earlier answer quoted."""
        return {p.passage_id: i for i, p in enumerate(self.passages)}

    @classmethod
    def load(cls, path: Path, settings: KnowledgeSettings, encoder: Encoder | None,
             encoder_status: str, cues: RankingCues, *, with_ranker: bool = True
             ) -> LoadedGeneration:
        stored = IndexGeneration.load(path, dense_model=encoder.name if encoder else None)
        dense, status = _dense_for(path.name, stored, settings, encoder, encoder_status)
        documents = dict(stored.manifest.get("document_info") or {})
        passages = stored.passages
        mask = np.fromiter((not documents.get(p.doc_id, {}).get("in_force", True)
                            for p in passages), dtype=bool, count=len(passages))
        articles: dict[tuple[str, int], list[int]] = {}
        for i, p in enumerate(passages):
            if p.item_no is not None and (documents.get(p.doc_id, {}).get("doc_type")
                                          in LEGISLATION_TYPES):
                articles.setdefault((p.doc_id, p.item_no), []).append(i)
        traits = PassageTraits.of(passages, documents, cues.liability_sections,
                                  cues.words("amount_marks"), cues.words("duration_marks"),
                                  cues.words("procedure_marks"))
        ranker = LearnedRanker.load(path / RANKER_DIR) if with_ranker else None
        return cls(path.name, path, passages, stored.units, stored.lexical, traits,
                   stored.manifest, dense, status, time.time(), documents,
                   mask if mask.any() else None, DocumentMasks.of(passages, documents, cues),
                   articles, load_successors(settings.data_dir / SUCCESSORS_FILE),
                   load_legal_basis(settings.data_dir / LEGAL_BASIS_FILE), ranker,
                   _cross_references(settings.data_dir / CROSS_REFERENCES_FILE))


def _cross_references(path: Path) -> CrossReferenceMap:
    found, problems = load_cross_references(path)
    for problem in problems:
        log.warning("%s: %s", path.name, problem)
    return found


def _dense_for(name: str, stored: IndexGeneration, settings: KnowledgeSettings,
               encoder: Encoder | None, encoder_status: str) -> tuple[DenseIndex | None, str]:
    """The stored vectors when they are this encoder's; a generation built without them (or
    with another model's) is encoded on load instead when it is small or the vector cache
    holds its units."""
    if encoder is None:
        return None, f"off: {encoder_status}"
    if stored.dense is not None:
        return stored.dense, f"on: {encoder.name}"
    built_with = stored.dense_model or "no dense vectors"
    texts = [u.text for u in stored.units]
    cache = open_vector_cache(settings.vector_cache_dir)
    dim = getattr(encoder, "dim", None)
    if len(stored.units) > ENCODE_ON_LOAD_MAX_UNITS:
        # Too many to encode on load, but the vector cache may hold them all.
        found = cache.get_many(encoder.name, texts, dim=dim) if cache else {}
        if len(found) < len(set(texts)):
            return None, (f"off: generation built with {built_with}, encoder is"
                          f" {encoder.name}; run `bin/kb ingest`")
        how = "from the vector cache"
    else:
        log.info("generation %s has %s; encoding its %d units with %s on load", name,
                 built_with, len(stored.units), encoder.name)
        found, cached = encode_with_cache(encoder.encode_passages, encoder.name, texts, cache,
                                          dim)
        how = "encoded on load" + (f", {cached} from the vector cache" if cached else "")
    vectors = np.stack([found[t] for t in texts]) if texts else \
        np.zeros((0, dim or 0), dtype=np.float32)
    index = DenseIndex.build(vectors, settings.dense_index, settings.dense_flat_max)
    return index, f"on: {encoder.name} ({how})"
