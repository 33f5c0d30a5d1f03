"""The learned ranker and the calibrated answer decision, as stored with an index generation.

Three LightGBM models over the candidates' features (retrieval/candidates.py):
- `ranking`: LambdaRank over the candidates of a question, replacing the hand-set boosts;
- `answer`: the probability that the top article answers the question (binary, then an isotonic
  map fitted on out-of-fold predictions, so that 0.8 means right about 8 times in 10);
- `reach`: the probability that one of the top three articles answers it, which decides whether
  the owner gets a short choice instead of a decline.
The thresholds were chosen on the tuning half when the models were trained
(retrieval/ranker_training.py) and travel with them in `decision.json`.

A generation directory holds them under `ranker/`; a generation without one is served by the
hand-set fusion, exactly as before the ranker existed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np

from knowledge.retrieval.candidates import FEATURES

log = logging.getLogger(__name__)

RANKER_DIR = "ranker"
FORMAT = 1
# The per-question features the answer and reach models add to the top candidate's own.
DECISION_FEATURES = ("score", "margin2", "margin3", "share", "articles")
ANSWER_FEATURES = DECISION_FEATURES + FEATURES
CHOICE_ARTICLES = 3  # at most this many articles in a "which one do you mean"
_KIND_POLICY = FEATURES.index("kind_policy")
_HANDSET = FEATURES.index("handset_answerable")
_FUSED_RANK = FEATURES.index("fused_rank")


@dataclass(frozen=True)
class Calibration:
    """Platt scaling: a model's raw probability to the observed rate, sigmoid(a*logit(raw)+b),
    fitted on out-of-fold predictions. Strictly monotone, so no two questions tie at a
    threshold the way they would on an isotonic step."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: float | np.ndarray) -> float | np.ndarray:
        r = np.clip(raw, 1e-6, 1 - 1e-6)
        z = self.a * np.log(r / (1 - r)) + self.b
        out = 1.0 / (1.0 + np.exp(-z))
        return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class DecisionPolicy:
    """When to answer, when to offer a choice; chosen on the tuning half (see training)."""

    answer_threshold: float = 0.5
    choice_threshold: float = 1.1  # > 1: never offer a choice
    choice_min_share: float = 0.15  # an article enters a choice with at least this share
    # The opinion's top clause when the hand-set rule vouches for it and both rankings put it
    # first: answered from this probability on (chosen within the same budget).
    agreement_threshold: float = 1.01
    max_wrong_rate: float = 0.03
    report: dict = field(default_factory=dict)  # what was measured when they were chosen


@dataclass(frozen=True)
class RankedArticle:
    """One article among the ranked candidates: its best passage and its share of the score."""

    position: int  # index of its best passage in the ranked candidate list
    score: float
    share: float


class LearnedRanker:
    def __init__(self, ranking: lgb.Booster, answer: lgb.Booster, answer_calibration: Calibration,
                 reach: lgb.Booster, reach_calibration: Calibration, policy: DecisionPolicy,
                 manifest: dict | None = None) -> None:
        self.ranking = ranking
        self.answer = answer
        self.answer_calibration = answer_calibration
        self.reach = reach
        self.reach_calibration = reach_calibration
        self.policy = policy
        self.manifest = manifest or {}

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ranking.save_model(str(directory / "ranking.txt"))
        self.answer.save_model(str(directory / "answer.txt"))
        self.reach.save_model(str(directory / "reach.txt"))
        decision = {"format": FORMAT, "features": list(FEATURES),
                    "answer_features": list(ANSWER_FEATURES),
                    "answer_calibration": asdict(self.answer_calibration),
                    "reach_calibration": asdict(self.reach_calibration),
                    "policy": asdict(self.policy), "manifest": self.manifest}
        (directory / "decision.json").write_text(
            json.dumps(decision, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LearnedRanker | None:
        """The ranker stored in `directory`, or None when there is none or it was written for
        other features (then the hand-set fusion serves, and `bin/kb ingest` retrains)."""
        meta = directory / "decision.json"
        if not meta.exists():
            return None
        try:
            decision = json.loads(meta.read_text(encoding="utf-8"))
            if (decision.get("format") != FORMAT or tuple(decision.get("features", ())) != FEATURES
                    or tuple(decision.get("answer_features", ())) != ANSWER_FEATURES):
                log.warning("ranker in %s was trained on other features; not used", directory)
                return None

            def calibration(key: str) -> Calibration:
                c = decision[key]
                return Calibration(float(c["a"]), float(c["b"]))

            policy = DecisionPolicy(**decision["policy"])
            return cls(lgb.Booster(model_file=str(directory / "ranking.txt")),
                       lgb.Booster(model_file=str(directory / "answer.txt")),
                       calibration("answer_calibration"),
                       lgb.Booster(model_file=str(directory / "reach.txt")),
                       calibration("reach_calibration"), policy, decision.get("manifest") or {})
        except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            log.warning("ranker in %s unreadable (%s); the hand-set fusion serves", directory, exc)
            return None

    # -- serving -----------------------------------------------------------------------------
    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(self.ranking.predict(features, num_threads=1), dtype=np.float64)

    def confidence(self, decision_row: np.ndarray) -> float:
        raw = float(self.answer.predict(decision_row[None, :], num_threads=1)[0])
        return self.answer_calibration(raw)

    def answers(self, decision_row: np.ndarray, confidence: float,
                threshold: float | None = None) -> bool:
        """Whether the top article is given as the answer."""
        if confidence >= (self.policy.answer_threshold if threshold is None else threshold):
            return True
        return rules_agree(decision_row) and confidence >= self.policy.agreement_threshold

    def reach_probability(self, decision_row: np.ndarray) -> float:
        raw = float(self.reach.predict(decision_row[None, :], num_threads=1)[0])
        return self.reach_calibration(raw)


def ranked_articles(scores: np.ndarray, articles: np.ndarray) -> list[RankedArticle]:
    """The articles of candidates sorted by score (best first), each once, with a softmax share
    of the candidates' scores: how the ranker's belief is spread over articles."""
    best: dict[int, tuple[int, float]] = {}
    for pos, (a, s) in enumerate(zip(articles.tolist(), scores.tolist(), strict=True)):
        if a not in best or s > best[a][1]:
            best[a] = (pos, s)
    ordered = sorted(best.values(), key=lambda t: -t[1])
    if not ordered:
        return []
    top = np.array([s for _, s in ordered])
    weights = np.exp(top - top.max())
    shares = weights / weights.sum()
    return [RankedArticle(pos, s, float(sh))
            for (pos, s), sh in zip(ordered, shares, strict=True)]


def merge_duplicates(articles: np.ndarray, texts: list[str]) -> np.ndarray:
    """Article ids where an article whose sentence repeats another's word for word (the same
    notice published under two ids, a text quoted by another) counts as that one: a choice
    between identical sentences asks nothing."""
    first: dict[str, int] = {}
    alias: dict[int, int] = {}
    for a, text in zip(articles.tolist(), texts, strict=True):
        owner = first.setdefault(text, a)
        if owner != a and a not in alias:
            alias[a] = alias.get(owner, owner)
    return np.asarray([alias.get(a, a) for a in articles.tolist()], dtype=articles.dtype)


def decision_row(features: np.ndarray, articles: list[RankedArticle]) -> np.ndarray:
    """What the answer and reach models see: the top article's score, its margins to the next
    two articles, its share, how many articles compete, and its best passage's features."""
    if not articles:
        return np.full(len(ANSWER_FEATURES), np.nan)
    s = [a.score for a in articles]
    top = articles[0]
    head = [s[0], s[0] - s[1] if len(s) > 1 else 10.0, s[0] - s[2] if len(s) > 2 else 10.0,
            top.share, float(len(articles))]
    return np.concatenate([np.asarray(head, dtype=np.float64), features[top.position]])


def top_is_policy(decision_row: np.ndarray) -> bool:
    """The top candidate is a passage of the opinion (or another policy text), not of a law."""
    return bool(decision_row[len(DECISION_FEATURES) + _KIND_POLICY] == 1)


def rules_agree(decision_row: np.ndarray) -> bool:
    """The top candidate is the opinion's, the hand-set rule vouches for it, and the hand-set
    ranking also put it first."""
    top = decision_row[len(DECISION_FEATURES):]
    return top_is_policy(decision_row) and bool(top[_HANDSET] == 1 and top[_FUSED_RANK] == 1)
