"""Wires settings, normaliser, tokenizer, store, ingestor and index builder together.

Both the CLI and the action server build their objects here, so the two never disagree
on where data lives or how text is tokenised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from knowledge.anticipated import load_questions
from knowledge.clause_parser import ClauseParser
from knowledge.encoders import Encoder, load_encoder, set_inference_threads
from knowledge.index_builder import IndexBuilder
from knowledge.ingest import Ingestor, read_manifest
from knowledge.models import ParsedDocument
from knowledge.retriever import Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store import ClauseStore
from knowledge.text_normalizer import NormalizationRules, TextNormalizer
from knowledge.tokenizer import ChineseTokenizer


@dataclass
class KnowledgeBase:
    settings: KnowledgeSettings

    @classmethod
    def from_env(cls) -> KnowledgeBase:
        return cls(KnowledgeSettings.from_env())

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

    def ingest_sources(self) -> tuple[list[ParsedDocument], str]:
        """Ingests every document of the sources manifest and builds a new index generation."""
        ingestor = Ingestor(self.store, ClauseParser(self.normalizer))
        parsed = [ingestor.ingest(e) for e in read_manifest(self.settings.sources_manifest)]
        return parsed, self.rebuild_index()

    def rebuild_index(self) -> str:
        s = self.settings
        questions, problems = (
            load_questions(s.questions_path) if s.anticipated_questions else ([], [])
        )
        builder = IndexBuilder(
            s.index_root,
            self.tokenizer,
            encoder=self.encoder,
            encoder_status=self._encoder_and_status[1],
            questions=questions,
            question_problems=problems,
            normalize=self.normalizer.query_text,
            dense_index=s.dense_index,
            dense_flat_max=s.dense_flat_max,
        )
        return builder.build(self.store.passages()).name
