"""Marks messages that name a place outside Hebei, or one inside it.

"山东有没有错峰生产的规定" and "上海的绿色通道怎么申请" use the opinion's own words, so word
counts and the sentence encoder both call them policy questions; what makes them out of scope
is the place. Two dense features carry that: "names a place elsewhere" and "names a place the
opinion covers", read from knowledge/data/regions.yml. The classifier learns their weight from
the training examples, so a place name is evidence, not a rule.

The lists are read when the model is trained and stored inside it, so a served model never
depends on a file that may have changed since; `fingerprint_addon` makes Rasa retrain this
component (and what depends on it) when the file changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
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

LEXICON_FILE = "regions.json"
GROUPS = ("elsewhere", "covered")  # feature columns, in this order


@dataclass(frozen=True)
class RegionLexicon:
    """Place names per group; `marks` says which groups a text names, and where."""

    names: dict[str, tuple[str, ...]]

    @classmethod
    def from_file(cls, path: Path) -> RegionLexicon:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        missing = [g for g in GROUPS if not data.get(g)]
        if missing:
            raise ValueError(f"{path}: no place names under {', '.join(missing)}")
        return cls({g: tuple(str(n) for n in data[g]) for g in GROUPS})

    def spans(self, text: str) -> dict[str, list[tuple[int, int]]]:
        found: dict[str, list[tuple[int, int]]] = {g: [] for g in GROUPS}
        for group, names in self.names.items():
            for name in names:
                start = text.find(name)
                while start != -1:
                    found[group].append((start, start + len(name)))
                    start = text.find(name, start + 1)
        return found


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class RegionMentionFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds [names a place elsewhere, names a covered place] as dense features."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `scale`: like the sentence encoder's, a binary column must not be outvoted by
        # thousands of count features in a linear model.
        return {**DenseFeaturizer.get_default_config(),
                "regions_path": "knowledge/data/regions.yml", "scale": 5.0}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("RegionMentionFeaturizer: scale must be positive")

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # Rasa passes the node's config here without the defaults merged in.
        path = Path({**cls.get_default_config(), **config}["regions_path"])
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: RegionLexicon | None = None,
    ) -> None:
        super().__init__(name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RegionMentionFeaturizer:
        return cls(config, execution_context.node_name, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self._lexicon = RegionLexicon.from_file(Path(self._config["regions_path"]))
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / LEXICON_FILE).write_text(
                json.dumps(self._lexicon.names, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RegionMentionFeaturizer:
        with model_storage.read_from(resource) as model_dir:
            names = json.loads((model_dir / LEXICON_FILE).read_text(encoding="utf-8"))
        lexicon = RegionLexicon({g: tuple(names[g]) for g in GROUPS})
        return cls(config, execution_context.node_name, model_storage, resource, lexicon)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self._lexicon is None:  # only if Rasa ran process before train
            raise RuntimeError("RegionMentionFeaturizer used before training")
        for message in messages:
            self._set_features(message)
        return messages

    def _set_features(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not text or not tokens:
            return
        spans = self._lexicon.spans(text)
        scale = np.float32(self._config["scale"])
        sequence = np.zeros((len(tokens), len(GROUPS)), dtype=np.float32)
        for column, group in enumerate(GROUPS):
            for index, token in enumerate(tokens):
                if any(token.start < end and start < token.end for start, end in spans[group]):
                    sequence[index, column] = scale
        sentence = np.array([[scale if spans[g] else 0.0 for g in GROUPS]], dtype=np.float32)
        alias = self._identifier
        message.add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, TEXT, alias))
        message.add_features(Features(sentence, FEATURE_TYPE_SENTENCE, TEXT, alias))
