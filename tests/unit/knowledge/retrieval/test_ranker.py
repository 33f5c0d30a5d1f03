"""The learned ranker and the calibrated answer decision: fitting, persistence, the decision
inputs, and threshold choice on the tuning half (synthetic candidates; the real corpus is
exercised through the knowledge-base fixtures in test_learned_search.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.retrieval.candidates import FEATURES, coverage_of
from knowledge.retrieval.ranker import (
    ANSWER_FEATURES,
    Calibration,
    LearnedRanker,
    decision_row,
    merge_duplicates,
    ranked_articles,
)
from knowledge.retrieval.ranker_training import (
    ANTICIPATED,
    NEGATIVE,
    TUNE,
    QueryExample,
    TrainingQuestion,
    TrainingReport,
    _lowest_threshold,
    fit,
    nlu_negatives,
    tuning_training,
)

LEX = FEATURES.index("lex")
COVERAGE = FEATURES.index("coverage")


def _example(rng: np.random.Generator, n: int, source: str, group: str,
             gold_at: int | None) -> QueryExample:
    """Candidates whose lexical score and coverage are noise, except the gold's (higher)."""
    features = rng.normal(0.0, 1.0, (8, len(FEATURES)))
    relevance = np.zeros(8)
    if gold_at is not None:
        features[gold_at, LEX] += 3.0
        features[gold_at, COVERAGE] += 2.0
        relevance[gold_at] = 1.0
    gold = (f"doc#{n}",) if gold_at is not None else ()
    return QueryExample(TrainingQuestion(f"q{n}", gold, group, source), features, relevance,
                        np.arange(8) + 10 * n)


@pytest.fixture(scope="module")
def examples() -> list[QueryExample]:
    rng = np.random.default_rng(3)
    out = [_example(rng, n, ANTICIPATED, f"a{n % 40}", int(rng.integers(8)))
           for n in range(300)]
    out += [_example(rng, 300 + n, TUNE, f"t{n}", int(rng.integers(8))) for n in range(60)]
    out += [_example(rng, 400 + n, TUNE, f"p{n}", None) for n in range(30)]
    out += [_example(rng, 500 + n, NEGATIVE, f"n{n}", None) for n in range(40)]
    return out


@pytest.fixture(scope="module")
def fitted(examples: list[QueryExample]) -> tuple[LearnedRanker, TrainingReport]:
    return fit(examples, max_wrong_rate=0.03)


@pytest.fixture(scope="module")
def trained(fitted: tuple[LearnedRanker, TrainingReport]) -> LearnedRanker:
    return fitted[0]


def test_the_ranker_learns_which_candidate_answers(trained: LearnedRanker,
                                                   examples: list[QueryExample]) -> None:
    with_gold = [e for e in examples if e.has_gold]
    top_is_gold = [e.relevance[int(np.argmax(trained.score(e.features)))] > 0 for e in with_gold]
    assert np.mean(top_is_gold) > 0.9


def test_the_answer_threshold_keeps_wrong_answers_within_the_budget(
        fitted: tuple[LearnedRanker, TrainingReport]) -> None:
    ranker, report = fitted
    assert report.tuning["wrong"] <= 0.03
    assert report.tuning["questions"] == 90
    # Probes without any answer are mostly declined, not answered.
    assert report.tuning["right"] > 0.3
    assert 0.0 < ranker.policy.answer_threshold <= 1.01


def test_a_probe_gets_a_lower_confidence_than_a_clear_answer(trained: LearnedRanker,
                                                             examples: list[QueryExample]) -> None:
    def confidence(e: QueryExample) -> float:
        scores = trained.score(e.features)
        order = np.argsort(-scores)
        return trained.confidence(decision_row(e.features[order],
                                               ranked_articles(scores[order],
                                                               e.articles[order])))

    clear = np.mean([confidence(e) for e in examples if e.has_gold])
    probes = np.mean([confidence(e) for e in examples if not e.has_gold])
    assert clear > probes + 0.3


def test_saved_and_loaded_ranker_scores_the_same(trained: LearnedRanker, tmp_path,
                                                 examples: list[QueryExample]) -> None:
    trained.save(tmp_path / "ranker")
    loaded = LearnedRanker.load(tmp_path / "ranker")
    assert loaded is not None
    features = examples[0].features
    assert np.allclose(loaded.score(features), trained.score(features))
    assert loaded.policy == trained.policy


def test_a_ranker_for_other_features_is_not_used(trained: LearnedRanker, tmp_path) -> None:
    trained.save(tmp_path / "ranker")
    decision = tmp_path / "ranker" / "decision.json"
    data = json.loads(decision.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    decision.write_text(json.dumps(data), encoding="utf-8")
    assert LearnedRanker.load(tmp_path / "ranker") is None


def test_an_unreadable_ranker_is_not_used(tmp_path) -> None:
    (tmp_path / "ranker").mkdir()
    (tmp_path / "ranker" / "decision.json").write_text("{not json", encoding="utf-8")
    assert LearnedRanker.load(tmp_path / "ranker") is None
    assert LearnedRanker.load(tmp_path / "nothing") is None


def test_ranked_articles_name_each_article_once_best_first() -> None:
    scores = np.array([3.0, 2.5, 1.0, 0.5])
    articles = np.array([7, 7, 9, 4])
    ranked = ranked_articles(scores, articles)
    assert [r.position for r in ranked] == [0, 2, 3]
    assert sum(r.share for r in ranked) == pytest.approx(1.0)
    assert ranked[0].share > ranked[1].share > ranked[2].share


def test_decision_row_has_the_margins_to_the_next_articles() -> None:
    features = np.arange(3 * len(FEATURES), dtype=float).reshape(3, len(FEATURES))
    ranked = ranked_articles(np.array([2.0, 1.5, 0.5]), np.array([1, 2, 3]))
    row = decision_row(features, ranked)
    assert len(row) == len(ANSWER_FEATURES)
    assert row[1] == pytest.approx(0.5) and row[2] == pytest.approx(1.5)
    assert np.array_equal(row[5:], features[0])


def test_calibration_is_monotone_and_bounded() -> None:
    cal = Calibration(2.0, -0.5)
    values = [cal(r) for r in (0.0, 0.1, 0.5, 0.9, 1.0)]
    assert values == sorted(values) and len(set(values)) == 5
    assert values[0] > 0.0 and values[-1] < 1.0
    assert Calibration()(0.3) == pytest.approx(0.3)


def test_lowest_threshold_answers_as_much_as_the_budget_allows() -> None:
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6])
    bad = np.array([False, False, True, False, True])
    assert _lowest_threshold(p, bad, total=10, budget=0.1) == pytest.approx(0.7)
    assert _lowest_threshold(p, bad, total=10, budget=0.0) == pytest.approx(0.9)
    assert _lowest_threshold(p, np.ones(5, bool), total=5, budget=0.0) == 1.01


def test_coverage_counts_a_word_once_whichever_unit_holds_it() -> None:
    credits = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.5]])  # 3 words x 2 units
    weights = np.array([1.0, 1.0, 2.0])
    both = coverage_of(credits, weights, [np.array([0]), np.array([1])])
    assert both[0] == pytest.approx((1 + 1 + 1) / 4)
    alone = coverage_of(credits, weights, [np.array([0])])
    assert alone[0] == pytest.approx(1 / 4)


def test_training_reads_tuning_halves_and_nlu_negatives(tmp_path) -> None:
    tsv = tmp_path / "law_tune.tsv"
    tsv.write_text("# c\n没证排污罚多少\tecological-environment-code#1102\n", encoding="utf-8")
    probes = tmp_path / "oos_tune.txt"
    probes.write_text("# c\n个税怎么交\n", encoding="utf-8")
    nlu = tmp_path / "out_of_scope.yml"
    nlu.write_text('version: "3.1"\nnlu:\n  - intent: out_of_scope\n    examples: |\n'
                   "      - 今天天气怎么样\n      - 去[北京](city)怎么走\n"
                   "  - intent: greet\n    examples: |\n      - 你好\n", encoding="utf-8")
    tuned = tuning_training([tsv, probes, tmp_path / "missing.tsv"])
    assert [(q.text, q.group) for q in tuned] == [
        ("没证排污罚多少", "ecological-environment-code|第1102条"), ("个税怎么交", "probe:个税怎么交")]
    assert [q.text for q in nlu_negatives(nlu)] == ["今天天气怎么样", "去北京怎么走"]


def test_identical_sentences_of_two_documents_count_as_one_article() -> None:
    articles = np.array([4, 9, 4, 7])
    texts = ["时限为10个工作日。", "时限为10个工作日。", "受理后告知。", "另一句。"]
    assert merge_duplicates(articles, texts).tolist() == [4, 4, 4, 7]
    assert [r.position for r in ranked_articles(np.array([2.0, 1.9, 1.0, 0.1]),
                                                merge_duplicates(articles, texts))] == [0, 3]
