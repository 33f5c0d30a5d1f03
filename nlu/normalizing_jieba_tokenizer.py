"""Jieba tokenizer that first brings messages to the knowledge base's normal form.

Owners write Traditional characters, full-width letters and stray spaces; the training data
is mostly Simplified. Normalising before tokenisation means "錯峰生產" and "错峰生产" are
the same tokens for the featurizers, without doubling the training data.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge.language.normalizer import TextNormalizer

log = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class NormalizingJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer + knowledge.language.normalizer (Traditional->Simplified, NFKC, pinyin)."""

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, model_storage, resource)
        self._normalizer = TextNormalizer()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NormalizingJiebaTokenizer:
        if config.get("dictionary_path"):
            cls._load_custom_dictionary(config["dictionary_path"])
        return cls(config, model_storage, resource)

    def _normalize(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text:
            return
        normalized = self._normalizer.query_text(text)
        # Entity annotations hold character offsets: only rewrite when they stay valid.
        if message.get(ENTITIES) and len(normalized) != len(text):
            return
        message.set(TEXT, normalized)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return super().process_training_data(training_data)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize(message)
        return super().process(messages)
