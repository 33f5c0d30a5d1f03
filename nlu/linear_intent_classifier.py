"""Logistic-regression intent classifier over count and sentence-encoder features.

Why not DIET: on ~1,100 short examples DIET ignores most of what the sentence encoder knows
(3-fold macro F1 0.80 with or without it), while a regularised linear model over the same
features reaches 0.87 and trains in seconds instead of minutes. Why not Rasa's own
`LogisticRegressionClassifier` unchanged: its regularisation strength is fixed, and it
persists through `skops`, whose import pulls in `numpy.distutils`, which lowers the root
logger to WARNING inside the running server (staff lose every INFO line after the model
loads). The model here is three arrays, saved as `.npz`: nothing executable is unpickled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

log = logging.getLogger(__name__)

MODEL_FILE = "linear_intent_classifier.npz"


@dataclass(frozen=True)
class SoftmaxModel:
    """The fitted multinomial model: what `process` needs, nothing else."""

    coef: np.ndarray  # (n_intents, n_features)
    intercept: np.ndarray  # (n_intents,)
    classes_: np.ndarray  # intent names, in coefficient order

    def predict_proba(self, features: Any) -> np.ndarray:
        scores = np.asarray(features @ self.coef.T) + self.intercept
        if len(self.classes_) == 2:  # sklearn fits one row for two classes: P(second)
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Rasa's logistic-regression classifier with a configurable `C` and `.npz` persistence."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # C=100: the features are few and informative; stronger regularisation (C=1) flattens
        # the probabilities so that correct answers fall under the fallback threshold.
        return {**LogisticRegressionClassifier.get_default_config(), "C": 100.0}

    def __init__(
        self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(
                model_dir / MODEL_FILE,
                coef=self.clf.coef_,
                intercept=self.clf.intercept_,
                classes=np.asarray(self.clf.classes_, dtype=str),
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with (
                model_storage.read_from(resource) as model_dir,
                np.load(model_dir / MODEL_FILE, allow_pickle=False) as saved,
            ):
                component.clf = SoftmaxModel(
                    coef=saved["coef"], intercept=saved["intercept"], classes_=saved["classes"]
                )
        except (ValueError, FileNotFoundError) as error:
            # Rasa loads untrained components too (e.g. NLU data without intents).
            log.debug("LinearIntentClassifier: no trained model in %s (%s)", resource.name, error)
        return component
