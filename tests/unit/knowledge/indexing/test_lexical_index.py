"""BM25 scores of a weighted question do not depend on the order of its weights: the weights
come partly from sets (glossary expansions), whose order changes with the hash seed, and the
learned ranker is trained on these scores, so one question must score bit for bit the same in
every process."""

from __future__ import annotations

import itertools

from knowledge.indexing.lexical_index import LexicalIndex


def test_weighted_scores_are_the_same_whatever_the_order_of_the_weights() -> None:
    # Units sharing several tokens, so that float32 sums in another order round differently.
    index = LexicalIndex.build([["a", "b", "c"], ["a", "b"], ["b", "c", "d", "a"], ["c"],
                                ["a", "a", "b", "c", "c", "d"]] * 3)
    weights = {"a": 1.0, "b": 0.8, "c": 0.3, "d": 1.0}
    results = {index.weighted_scores({t: weights[t] for t in order}).tobytes()
               for order in itertools.permutations(weights)}
    assert len(results) == 1
