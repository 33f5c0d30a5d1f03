"""The region and character n-gram featurizers, as Rasa trains, persists and loads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.char_ngram_featurizer import CharNgramFeaturizer
from nlu.normalizing_jieba_tokenizer import NormalizingJiebaTokenizer
from nlu.region_mention_featurizer import RegionMentionFeaturizer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGIONS = PROJECT_ROOT / "knowledge/data/regions.yml"


def _messages(tokenizer: NormalizingJiebaTokenizer, *texts: str) -> list[Message]:
    messages = [Message.build(text=t) for t in texts]
    tokenizer.process(messages)
    return messages


@pytest.fixture
def regions(model_storage: LocalModelStorage, context: ExecutionContext) -> RegionMentionFeaturizer:
    config = {**RegionMentionFeaturizer.get_default_config(), "regions_path": str(REGIONS),
              "scale": 5.0}
    featurizer = RegionMentionFeaturizer.create(config, model_storage, Resource("regions"), context)
    featurizer.train(TrainingData())
    return featurizer


def test_regions_mark_a_place_elsewhere_and_a_covered_place(
    tokenizer: NormalizingJiebaTokenizer, regions: RegionMentionFeaturizer
) -> None:
    elsewhere, hebei, neither, traditional = _messages(
        tokenizer, "上海的绿色通道怎么申请", "石家庄的企业能享受什么", "绿色通道怎么申请",
        "廣東的工業電價多少")
    regions.process([elsewhere, hebei, neither, traditional])
    sentence = {m.get(TEXT): m.get_dense_features(TEXT)[1].features[0].tolist()
                for m in (elsewhere, hebei, neither, traditional)}
    assert sentence["上海的绿色通道怎么申请"] == [5.0, 0.0]
    assert sentence["石家庄的企业能享受什么"] == [0.0, 5.0]
    assert sentence["绿色通道怎么申请"] == [0.0, 0.0]
    assert sentence["广东的工业电价多少"] == [5.0, 0.0]  # normalised by the tokenizer first


def test_region_sequence_features_mark_the_tokens_of_the_place(
    tokenizer: NormalizingJiebaTokenizer, regions: RegionMentionFeaturizer
) -> None:
    (message,) = _messages(tokenizer, "内蒙古对新能源企业有补贴吗")
    regions.process([message])
    tokens = [t.text for t in message.get(TOKENS_NAMES[TEXT])]
    sequence = message.get_dense_features(TEXT)[0].features
    assert sequence.shape == (len(tokens), 2)
    marked = [t for t, row in zip(tokens, sequence, strict=True) if row[0]]
    assert "".join(marked) == "内蒙古"


def test_the_trained_model_keeps_its_lexicon_when_the_file_changes(
    tmp_path: Path, tokenizer: NormalizingJiebaTokenizer, model_storage: LocalModelStorage,
    context: ExecutionContext,
) -> None:
    """A served model must answer as it was evaluated, whatever the file says later; the
    fingerprint changes with the file so that `rasa train` retrains."""
    path = tmp_path / "regions.yml"
    path.write_text("covered: [河北]\nelsewhere: [山东]\n", encoding="utf-8")
    config = {**RegionMentionFeaturizer.get_default_config(), "regions_path": str(path)}
    before = RegionMentionFeaturizer.fingerprint_addon({"regions_path": str(path)})
    trained = RegionMentionFeaturizer.create(config, model_storage, Resource("r"), context)
    trained.train(TrainingData())
    path.write_text("covered: [河北]\nelsewhere: [山西]\n", encoding="utf-8")
    assert RegionMentionFeaturizer.fingerprint_addon({"regions_path": str(path)}) != before

    loaded = RegionMentionFeaturizer.load(config, model_storage, Resource("r"), context)
    shandong, shanxi = _messages(tokenizer, "山东有没有错峰", "山西有没有错峰")
    loaded.process([shandong, shanxi])
    assert shandong.get_dense_features(TEXT)[1].features[0, 0] > 0
    assert shanxi.get_dense_features(TEXT)[1].features[0, 0] == 0


def test_a_regions_file_without_names_is_refused(
    tmp_path: Path, model_storage: LocalModelStorage, context: ExecutionContext
) -> None:
    path = tmp_path / "regions.yml"
    path.write_text("covered: [河北]\n", encoding="utf-8")
    config = {**RegionMentionFeaturizer.get_default_config(), "regions_path": str(path)}
    featurizer = RegionMentionFeaturizer.create(config, model_storage, Resource("r"), context)
    with pytest.raises(ValueError, match="elsewhere"):
        featurizer.train(TrainingData())


@pytest.fixture
def char_ngrams(
    tokenizer: NormalizingJiebaTokenizer, model_storage: LocalModelStorage,
    context: ExecutionContext,
) -> CharNgramFeaturizer:
    data = TrainingData(_messages(tokenizer, "不想填了", "错峰生产怎么安排", "谢谢"))
    featurizer = CharNgramFeaturizer.create(
        CharNgramFeaturizer.get_default_config(), model_storage, Resource("chars"), context)
    featurizer.train(data)
    return featurizer


def _counts(featurizer: CharNgramFeaturizer, message: Message) -> dict[str, int]:
    featurizer.process([message])
    row = message.get_sparse_features(TEXT)[1].features.tocsr()
    vocabulary = {i: g for g, i in featurizer._vectorizer.vocabulary_.items()}
    return {vocabulary[i]: int(v) for i, v in zip(row.indices, row.data, strict=True)}


def test_char_ngrams_cross_word_boundaries(
    tokenizer: NormalizingJiebaTokenizer, char_ngrams: CharNgramFeaturizer
) -> None:
    (message,) = _messages(tokenizer, "不想填了")
    tokens = [t.text for t in message.get(TOKENS_NAMES[TEXT])]
    counts = _counts(char_ngrams, message)
    # jieba splits the message, yet n-grams that span the split are there.
    assert len(tokens) > 1
    assert counts["想填"] == 1 and counts["填了"] == 1 and counts["不想填"] == 1


def test_char_ngrams_survive_persist_and_load(
    tokenizer: NormalizingJiebaTokenizer, char_ngrams: CharNgramFeaturizer,
    model_storage: LocalModelStorage, context: ExecutionContext,
) -> None:
    loaded = CharNgramFeaturizer.load(
        CharNgramFeaturizer.get_default_config(), model_storage, Resource("chars"), context)
    a, b = _messages(tokenizer, "錯峰生產還填嗎", "错峰生产还填吗")
    assert _counts(char_ngrams, a) == _counts(loaded, b)
    assert a.get_sparse_features(TEXT)[1].features.shape == (1, len(
        char_ngrams._vectorizer.vocabulary_))
    # n-grams never seen in training ("还填") add nothing.
    assert "还填" not in _counts(loaded, _messages(tokenizer, "还填")[0])


def test_char_ngrams_reject_an_inverted_range() -> None:
    with pytest.raises(ValueError, match="min_ngram"):
        CharNgramFeaturizer.validate_config({"min_ngram": 3, "max_ngram": 1})


def test_messages_without_text_are_left_alone(char_ngrams: CharNgramFeaturizer) -> None:
    message = Message(data={"action_name": "utter_greet"})
    char_ngrams.process([message])
    assert not message.features
