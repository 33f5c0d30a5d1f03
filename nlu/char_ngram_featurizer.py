"""Character n-gram counts over the whole (normalised) message, across word boundaries.

Rasa's CountVectorsFeaturizer builds character n-grams inside each token, so with jieba's
segmentation "不想填了" loses "想填" and "填了" whenever jieba splits there, and a typo that
changes the segmentation changes every n-gram. Chinese has no spaces to respect: n-grams of
the message itself keep the phrase whatever the segmenter did. Measured on data/nlu with a
scikit-learn replica of the pipeline (5 folds, 3 seeds; docs/nlu.md): macro F1 0.948 with
per-token n-grams, 0.954 with these.

The vocabulary is learnt in training and stored in the model as JSON (nothing is unpickled).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer

log = logging.getLogger(__name__)

VOCABULARY_FILE = "char_ngrams.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class CharNgramFeaturizer(SparseFeaturizer, GraphComponent):
    """Sentence-level counts of the message's character n-grams (`min_ngram`..`max_ngram`)."""

    @classmethod
    def required_components(cls) -> list[type]:
        # Runs after the tokenizer only because the tokenizer normalises the text first.
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 3}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not 1 <= int(config["min_ngram"]) <= int(config["max_ngram"]):
            raise ValueError("CharNgramFeaturizer: need 1 <= min_ngram <= max_ngram")

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        super().__init__(name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = self._new_vectorizer(vocabulary) if vocabulary else None

    def _new_vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        # char_wb pads the message with spaces: the first and last characters get n-grams of
        # their own (" 在吗", "吗 "), which separates "在吗" from "在吗在吗" and "吗" mid-text.
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=(int(self._config["min_ngram"]), int(self._config["max_ngram"])),
            lowercase=True,
            vocabulary=vocabulary,
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CharNgramFeaturizer:
        return cls(config, execution_context.node_name, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        if not texts:
            log.debug("CharNgramFeaturizer: no texts to learn a vocabulary from")
            return self._resource
        self._vectorizer = self._new_vectorizer().fit(texts)
        vocabulary = {gram: int(i) for gram, i in self._vectorizer.vocabulary_.items()}
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / VOCABULARY_FILE).write_text(
                json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CharNgramFeaturizer:
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            vocabulary = None  # trained without NLU examples
        return cls(config, execution_context.node_name, model_storage, resource, vocabulary)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self._vectorizer is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT)]
        if not with_text:
            return messages
        counts = self._vectorizer.transform([m.get(TEXT) for m in with_text]).tocsr()
        for row, message in enumerate(with_text):
            message.add_features(Features(scipy.sparse.coo_matrix(counts[row]),
                                          FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return messages
