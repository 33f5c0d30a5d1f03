"""The custom NLU components, exercised as Rasa runs them (real encoder, real sklearn)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.linear_intent_classifier import LinearIntentClassifier
from nlu.normalizing_jieba_tokenizer import NormalizingJiebaTokenizer
from nlu.sentence_encoder_featurizer import SentenceEncoderFeaturizer

PROJECT_ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = {
    "goodbye": ["再见", "拜拜", "下次再聊", "先走了", "回头见"],
    "thanks": ["谢谢", "多谢了", "感谢你的帮助", "太感谢了", "谢啦"],
    "ask_measures": ["电价有没有优惠", "能享受什么税收政策", "审批有绿色通道吗",
                     "有哪些扶持措施", "财政上有补贴吗"],
}


def _tokens(tokenizer: NormalizingJiebaTokenizer, text: str) -> list[str]:
    message = Message.build(text=text)
    tokenizer.process([message])
    return [t.text for t in message.get(TOKENS_NAMES[TEXT])]


def test_tokenizer_normalises_traditional_and_full_width_before_segmenting(
    tokenizer: NormalizingJiebaTokenizer,
) -> None:
    assert _tokens(tokenizer, "錯峰生產ＡＢＣ") == _tokens(tokenizer, "错峰生产ABC")
    message = Message.build(text="電價　優惠")  # ideographic space from a phone keyboard
    tokenizer.process([message])
    assert message.get(TEXT) == "电价优惠"


def test_encoder_features_align_with_tokens_and_carry_meaning(
    tokenizer: NormalizingJiebaTokenizer, encoder_featurizer: SentenceEncoderFeaturizer
) -> None:
    messages = [Message.build(text=t) for t in ("晚安", "再见", "电价能便宜点吗")]
    tokenizer.process(messages)
    encoder_featurizer.process(messages)
    sentences = []
    for message in messages:
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence.features.shape == (len(message.get(TOKENS_NAMES[TEXT])), 512)
        assert sentence.features.shape == (1, 512)
        sentences.append(sentence.features[0])
    good_night, goodbye, price = sentences
    # Never seen in training, "晚安" is still a farewell to the encoder, not a price question.
    assert good_night @ goodbye > good_night @ price


def test_encoder_scale_multiplies_the_features(
    tokenizer: NormalizingJiebaTokenizer,
) -> None:
    plain, scaled = (
        SentenceEncoderFeaturizer({**SentenceEncoderFeaturizer.get_default_config(), "scale": s},
                                  f"enc{s}")
        for s in (1.0, 5.0)
    )
    a, b = Message.build(text="有补贴吗"), Message.build(text="有补贴吗")
    tokenizer.process([a, b])
    plain.process([a])
    scaled.process([b])
    np.testing.assert_allclose(b.get_dense_features(TEXT)[1].features,
                               5 * a.get_dense_features(TEXT)[1].features, rtol=1e-5)


def test_a_served_message_gets_the_features_it_gets_in_a_batch(
    tokenizer: NormalizingJiebaTokenizer, encoder_featurizer: SentenceEncoderFeaturizer,
) -> None:
    """Served messages (one at a time) go through the text cache; batches (training) do not."""
    alone, again = Message.build(text="审批有没有绿色通道"), Message.build(text="审批有没有绿色通道")
    batch = [Message.build(text="审批有没有绿色通道"), Message.build(text="谢谢")]
    tokenizer.process([alone, again, *batch])
    encoder_featurizer.process([alone])
    encoder_featurizer.process([again])  # from the cache
    encoder_featurizer.process(batch)
    for message in (again, batch[0]):
        np.testing.assert_allclose(message.get_dense_features(TEXT)[1].features,
                                   alone.get_dense_features(TEXT)[1].features, atol=1e-5)


def test_encoder_rejects_a_non_positive_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        SentenceEncoderFeaturizer.validate_config({"scale": 0})


@pytest.fixture
def featurized_training_data(
    tokenizer: NormalizingJiebaTokenizer,
    encoder_featurizer: SentenceEncoderFeaturizer,
    model_storage: LocalModelStorage,
    context: ExecutionContext,
) -> tuple[TrainingData, CountVectorsFeaturizer]:
    data = TrainingData([Message.build(text=t, intent=i)
                         for i, texts in EXAMPLES.items() for t in texts])
    tokenizer.process_training_data(data)
    counts = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), model_storage, Resource("counts"), context)
    counts.train(data)
    counts.process_training_data(data)
    encoder_featurizer.process_training_data(data)
    return data, counts


def _featurize(text: str, tokenizer, counts, encoder) -> Message:
    message = Message.build(text=text)
    tokenizer.process([message])
    counts.process([message])
    encoder.process([message])
    return message


def test_classifier_survives_persist_and_load_with_identical_probabilities(
    featurized_training_data, tokenizer, encoder_featurizer, model_storage, context
) -> None:
    data, counts = featurized_training_data
    resource = Resource("intent")
    trained = LinearIntentClassifier.create(
        LinearIntentClassifier.get_default_config(), model_storage, resource, context)
    trained.train(data)
    loaded = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), model_storage, resource, context)

    unseen = ["感谢感谢", "拜拜啦", "电费有没有优惠政策"]
    fresh = [_featurize(t, tokenizer, counts, encoder_featurizer) for t in unseen]
    again = [_featurize(t, tokenizer, counts, encoder_featurizer) for t in unseen]
    trained.process(fresh)
    loaded.process(again)
    for before, after in zip(fresh, again, strict=True):
        assert [r["name"] for r in before.get("intent_ranking")] == \
            [r["name"] for r in after.get("intent_ranking")]
        np.testing.assert_allclose([r["confidence"] for r in before.get("intent_ranking")],
                                   [r["confidence"] for r in after.get("intent_ranking")],
                                   rtol=1e-6)
    assert [m.get(INTENT)["name"] for m in again] == ["thanks", "goodbye", "ask_measures"]


LOAD_AND_REPORT_LOG_LEVEL = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO)
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from nlu.linear_intent_classifier import LinearIntentClassifier
LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(),
                            LocalModelStorage(Path(sys.argv[1])), Resource("intent"),
                            ExecutionContext(GraphSchema({}), "m"))
print(logging.getLogger().level)
"""


def test_loading_the_classifier_keeps_the_servers_info_logging(
    featurized_training_data, model_storage, context, tmp_path
) -> None:
    """Rasa's stock classifier loads through skops, whose imports lower the root logger to
    WARNING: staff would lose every INFO line after the model loads. A fresh process shows it,
    since the import happens once per process."""
    data, _ = featurized_training_data
    LinearIntentClassifier.create(
        LinearIntentClassifier.get_default_config(), model_storage, Resource("intent"), context
    ).train(data)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_REPORT_LOG_LEVEL, str(tmp_path / "model-storage")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, check=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.stdout.split()[-1] == str(logging.INFO)


def test_encoder_without_sequence_features_encodes_the_sentence_only(
    tokenizer: NormalizingJiebaTokenizer,
) -> None:
    """The served pipeline reads sentence features only: no encoder call per token."""
    config = {**SentenceEncoderFeaturizer.get_default_config(), "sequence_features": False}
    featurizer = SentenceEncoderFeaturizer(config, "sentence_only")
    (message,) = [Message.build(text="审批流程能不能再简化一些")]
    tokenizer.process([message])
    featurizer.process([message])
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None and sentence.features.shape == (1, 512)
    assert featurizer._encode_cached.cache_info().currsize == 1  # the message, no token
