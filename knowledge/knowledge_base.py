"""Wires settings, normaliser, tokenizer, store, ingestor and index builder together.

Both the CLI and the action server build their objects here, so the two never disagree
on where data lives or how text is tokenised.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from tempfile import TemporaryDirectory

from knowledge.eligibility.engine import LEXICON_FILE, RULES_FILE, EligibilityEngine
from knowledge.indexing.anticipated import load_questions
from knowledge.indexing.builder import IndexBuilder
from knowledge.indexing.encoders import Encoder, load_encoder, set_inference_threads
from knowledge.indexing.generation import current_generation
from knowledge.indexing.vector_cache import open_vector_cache
from knowledge.ingestion.ingest import DocumentParser, Ingestor, read_manifest
from knowledge.language.normalizer import NormalizationRules, TextNormalizer
from knowledge.language.tokenizer import ChineseTokenizer
from knowledge.models import ParsedDocument, Passage
from knowledge.retrieval.ranker import RANKER_DIR
from knowledge.retrieval.ranker_training import RankerTrainer
from knowledge.retrieval.retriever import Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store.clause_store import ClauseStore
from knowledge.store.versions import (
    DRAFT,
    REPEALED,
    cited_with_version,
    derived_status,
    in_force,
)


@dataclass
class KnowledgeBase:
    settings: KnowledgeSettings

    @classmethod
    def from_env(cls) -> KnowledgeBase:
        return cls(KnowledgeSettings())

    @cached_property
    def normalizer(self) -> TextNormalizer:
        return TextNormalizer(NormalizationRules.load(self.settings.data_dir / "normalization.yml"))

    @cached_property
    def tokenizer(self) -> ChineseTokenizer:
        return ChineseTokenizer.from_data(self.settings.data_dir)

    @cached_property
    def store(self) -> ClauseStore:
        return ClauseStore(self.settings.db_path)

    @cached_property
    def _encoder_and_status(self) -> tuple[Encoder | None, str]:
        s = self.settings
        encoder, status = load_encoder(s.dense_model, s.dense_model_path, s.dense_query_prefix,
                                       s.dense_quantize)
        if encoder is not None:
            set_inference_threads(s.dense_threads)
        return encoder, status

    @property
    def encoder(self) -> Encoder | None:
        """The dense leg's sentence encoder (shared per process), None when there is none."""
        return self._encoder_and_status[0]

    @cached_property
    def retriever(self) -> Retriever:
        encoder, status = self._encoder_and_status
        return Retriever(self.settings, self.normalizer, self.tokenizer, encoder,
                         encoder_status=status)

    @property
    def loaded_retriever(self) -> Retriever | None:
        """The retriever if something has loaded it, without loading it: a metrics scrape or a
        readiness probe must not start a load of the index and the encoder."""
        return self.__dict__.get("retriever")

    def eligibility_engine(self, versions: Mapping[str, str] | None = None) -> EligibilityEngine:
        """The rules engine over this store, with the rules and lexicon of its data directory;
        `versions` pins documents to stored versions (audit)."""
        data = self.settings.data_dir
        return EligibilityEngine(self.store, self.normalizer, data / RULES_FILE,
                                 data / LEXICON_FILE, versions)

    def ingest_sources(self) -> tuple[list[ParsedDocument], str]:
        """Ingests (and publishes) every document of the sources manifest, then builds a new
        index generation from the versions in force."""
        s = self.settings
        ingestor = Ingestor(self.store, DocumentParser(self.normalizer))
        manifests = [s.sources_manifest] + ([s.related_manifest] if s.related_sources else [])
        parsed = [ingestor.ingest(e) for e in read_manifest(*manifests)]
        return parsed, self.rebuild_index(train_ranker=s.trains_ranker)

    def served_passages(self, today: str | date | None = None,
                        extra_published: tuple[str, str] | None = None,
                        pinned: dict[str, str] | None = None) -> list[Passage]:
        """The passages an index serves: each document's version in force (store/versions.py),
        or the `pinned` doc_id -> version for an audit. `extra_published` counts that version as
        published (what a publish is about to serve). When a document has more than one
        published version, its citations carry the version: 《…》工作任务 第2条（2019年版）."""
        versions = self.store.versions()
        chosen = {d: i.version for d, i in in_force(versions, today, extra_published).items()}
        for doc_id, version in (pinned or {}).items():
            if not any(i.doc_id == doc_id and i.version == version for i in versions):
                raise LookupError(f"{doc_id} has no version {version!r}")
            chosen[doc_id] = version
        published: dict[str, int] = {}
        for i in versions:
            if i.status != DRAFT or (i.doc_id, i.version) == extra_published:
                published[i.doc_id] = published.get(i.doc_id, 0) + 1
        for info in versions:  # a repealed law stays searchable on request (its old text)
            if info.doc_id not in chosen and derived_status(info, versions, today) == REPEALED:
                chosen[info.doc_id] = info.version
        passages = self.store.passages(chosen.items())
        return [replace(p, citation=cited_with_version(p.citation, p.version))
                if published.get(p.doc_id, 0) > 1 else p for p in passages]

    def rebuild_index(self, passages: list[Passage] | None = None, *,
                      index_root: Path | None = None,
                      progress: Callable[[str], None] | None = None,
                      train_ranker: bool = False) -> str:
        """Builds a new generation (default: the versions in force) and switches to it.

        `train_ranker`: train the learned ranker on the new generation (`bin/kb ingest`);
        otherwise the live generation's ranker goes with the new one (a publish, an audit),
        since its features name no document."""
        s = self.settings
        if progress:
            progress("loading anticipated questions")
        questions, problems = [], []
        for path in s.questions_paths if s.anticipated_questions else ():
            more, trouble = load_questions(path)
            questions += more
            problems += trouble
        builder = IndexBuilder(
            index_root or s.index_root,
            self.tokenizer,
            encoder=self.encoder,
            encoder_status=self._encoder_and_status[1],
            questions=questions,
            question_problems=problems,
            normalize=self.normalizer.query_text,
            dense_index=s.dense_index,
            dense_flat_max=s.dense_flat_max,
            vector_cache=open_vector_cache(s.vector_cache_dir),
        )
        if passages is None:
            passages = self.served_passages()
        live = current_generation(s.index_root)

        def attach_ranker(staging: Path) -> None:
            if train_ranker:
                RankerTrainer(s, self.retriever.load, self.retriever.pipeline,
                              self.normalizer.document_text, questions,
                              progress).train_into(staging)
            elif live is not None and (live / RANKER_DIR).is_dir():
                shutil.copytree(live / RANKER_DIR, staging / RANKER_DIR)

        return builder.build(passages, progress=progress, documents=self.document_info(passages),
                             before_switch=attach_ranker).name

    def document_info(self, passages: list[Passage],
                      today: str | date | None = None) -> dict[str, dict]:
        """What an index generation records of each document it holds: titles, type, status,
        relations. Only a version in force (or pinned for an audit) is searched by default."""
        versions = self.store.versions()
        held = {(p.doc_id, p.version) for p in passages}
        info: dict[str, dict] = {}
        for v in versions:
            if (v.doc_id, v.version) not in held:
                continue
            status = derived_status(v, versions, today)
            info[v.doc_id] = {
                "version": v.version, "title": v.title, "short_title": v.short_title,
                "doc_type": v.doc_type, "issuer": v.issuer, "effective": v.effective,
                # A version an index serves is in force unless repealed (a draft being
                # published is about to be; a pinned old version is an audit's choice).
                "status": status, "in_force": status != REPEALED,
                "repealed": v.repealed, "repealed_by": v.repealed_by,
                "repeals": list(v.repeals), "rests_on": list(v.rests_on),
                "aliases": list(v.aliases),
            }
        return info

    @contextmanager
    def audit_retriever(self, pinned: dict[str, str]) -> Iterator[Retriever]:
        """A retriever over chosen versions (e.g. the superseded 2019 text), built in a
        temporary directory and dropped afterwards; the live index is not touched."""
        with TemporaryDirectory(prefix="kb-audit-") as tmp:
            settings = self.settings.model_copy(update={"home": Path(tmp)})
            self.rebuild_index(self.served_passages(pinned=pinned),
                               index_root=settings.index_root)
            encoder, status = self._encoder_and_status
            yield Retriever(settings, self.normalizer, self.tokenizer, encoder,
                            encoder_status=status, in_force_only=False)
