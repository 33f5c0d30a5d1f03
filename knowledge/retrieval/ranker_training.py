"""Trains the learned ranker and the answer decision for a freshly built index generation.

Training questions, each with the passages that answer it:
- every anticipated question (knowledge/data/anticipated_questions*.yml), searched with its own
  index unit hidden, so that it cannot simply find itself;
- the tuning halves of the evaluation sets (settings.ranker_tuning_sets): owners' questions
  with their gold article or clause, and out-of-scope probes with none;
- the NLU's out-of-scope examples (data/nlu/out_of_scope.yml): questions nothing answers.
Held-out halves are never read here.

Folds are grouped by article (a question's gold clause; each probe is its own group), so that
paraphrases of one article are never on both sides of a fold. Out-of-fold scores train the
answer and reach models; their out-of-fold probabilities are calibrated (isotonic) and the
thresholds are chosen on the tuning half: the lowest answer threshold whose wrong answers stay
within `max_wrong_rate` of the tuning questions, and likewise for offering a choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from knowledge.indexing.anticipated import QUESTION, AnticipatedQuestion
from knowledge.indexing.vector_cache import VectorCache, encode_with_cache, open_vector_cache
from knowledge.question_sets import is_question_file, load_lines, load_questions_tsv
from knowledge.retrieval.candidates import FEATURES
from knowledge.retrieval.ranker import (
    CHOICE_ARTICLES,
    RANKER_DIR,
    Calibration,
    DecisionPolicy,
    LearnedRanker,
    decision_row,
    ranked_articles,
    rules_agree,
    top_is_policy,
)
from knowledge.settings import KnowledgeSettings

if TYPE_CHECKING:
    from knowledge.retrieval.live_index import LoadedGeneration
    from knowledge.retrieval.pipeline import SearchPipeline

log = logging.getLogger(__name__)

ARTICLE_GOLD = re.compile(r"^([a-z0-9][a-z0-9-]*)#(\d{1,4})$")
TRAINING_VERSION = 4  # part of the cache key: bump when this module's choices change
FOLDS = 5
TUNE, ANTICIPATED, NEGATIVE = "tune", "anticipated", "negative"
FEATURE_DATA = ("glossary.yml", "ranking.yml", "stopwords.txt", "normalization.yml")
QUERY_VECTORS = "#query"  # the vector cache keeps query vectors under the encoder's name + this
_KIND_POLICY = FEATURES.index("kind_policy")
# An owner's question counts for more than a staff-written paraphrase: in the ranker (the
# tuning questions are repeated) and, more, in the answer decision, whose thresholds are set
# on them.
TUNE_REPEAT = 2
TUNE_WEIGHT = 6.0
# Staff-written paraphrases in the answer decision: they are easier than owners' questions.
ANTICIPATED_DECISION_WEIGHT = 0.3

RANKER_PARAMS = {"objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [1, 3],
                 "learning_rate": 0.08, "num_leaves": 15, "min_data_in_leaf": 20,
                 "feature_fraction": 0.9, "lambdarank_truncation_level": 10,
                 "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1,
                 "seed": 7}
RANKER_ROUNDS = 150
DECISION_PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 7,
                   "min_data_in_leaf": 20, "feature_fraction": 0.9, "lambda_l2": 1.0,
                   "deterministic": True, "force_row_wise": True, "num_threads": 2,
                   "verbose": -1, "seed": 7}
DECISION_ROUNDS = 100


@dataclass(frozen=True)
class TrainingQuestion:
    text: str
    gold: tuple[str, ...]  # "doc_id#N" articles, "clause:doc_id|clause_key", or substrings
    group: str  # fold group: the gold article or clause; a probe is its own group
    source: str  # TUNE | ANTICIPATED | NEGATIVE
    hide_own_unit: bool = False


@dataclass
class QueryExample:
    question: TrainingQuestion
    features: np.ndarray  # candidates x FEATURES
    relevance: np.ndarray  # per candidate: 2 the anchored sentence, 1 the article, 0
    articles: np.ndarray  # per candidate: its article id in the generation

    @property
    def has_gold(self) -> bool:
        return bool(len(self.relevance) and self.relevance.max() > 0)

    @property
    def weight(self) -> float:
        """The example's weight in the answer decision."""
        return {TUNE: TUNE_WEIGHT, ANTICIPATED: ANTICIPATED_DECISION_WEIGHT}.get(
            self.question.source, 1.0)


# -- training questions --------------------------------------------------------------------------
def anticipated_training(questions: Iterable[AnticipatedQuestion]) -> list[TrainingQuestion]:
    out = []
    for q in questions:
        gold = f"clause:{q.doc_id}|{q.clause_key}"
        out.append(TrainingQuestion(q.question, (gold, *((q.anchor,) if q.anchor else ())),
                                    f"{q.doc_id}|{q.clause_key}", ANTICIPATED, True))
    return out


def tuning_training(paths: Iterable[Path]) -> list[TrainingQuestion]:
    """The tuning halves: question files with golds, and out-of-scope probe files."""
    out: list[TrainingQuestion] = []
    for path in paths:
        if not Path(path).exists():
            log.warning("ranker training: %s is missing; trained without it", path)
            continue
        if is_question_file(path):
            for q in load_questions_tsv(path):
                first = ARTICLE_GOLD.match(q.gold[0])
                group = (f"{first.group(1)}|第{int(first.group(2))}条" if first
                         else f"text:{q.gold[0]}")
                out.append(TrainingQuestion(q.question, q.gold, group, TUNE))
        else:
            out += [TrainingQuestion(line, (), f"probe:{line}", TUNE) for line in load_lines(path)]
    return out


def nlu_negatives(path: Path, intent: str = "out_of_scope") -> list[TrainingQuestion]:
    """The examples of one intent of a Rasa NLU file: questions the knowledge base must not
    answer (training data of the NLU, never an evaluation set)."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for block in data.get("nlu") or []:
        if block.get("intent") != intent:
            continue
        for line in str(block.get("examples") or "").splitlines():
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2",
                          line.strip().removeprefix("- ").strip())
            if text:
                out.append(TrainingQuestion(text, (), f"probe:{text}", NEGATIVE))
    return out


# -- examples: the candidates of every training question -----------------------------------------
def _relevance(gen: LoadedGeneration, ids: np.ndarray, gold: tuple[str, ...],
               clean: Callable[[str], str]) -> np.ndarray:
    rel = np.zeros(len(ids))
    clause = next((g[len("clause:"):] for g in gold if g.startswith("clause:")), None)
    for k, i in enumerate(ids.tolist()):
        p = gen.passages[i]
        if clause is not None:
            if f"{p.doc_id}|{p.clause_key}" == clause:
                anchors = [g for g in gold if not g.startswith("clause:")]
                rel[k] = 2.0 if anchors and any(clean(a) in clean(p.text) for a in anchors) \
                    else 1.0
            continue
        for g in gold:
            article = ARTICLE_GOLD.match(g)
            if article:
                if p.doc_id == article.group(1) and p.item_no == int(article.group(2)):
                    rel[k] = 1.0
            elif clean(g) in clean(p.text):
                rel[k] = 1.0
    return rel


def query_vectors(pipeline: SearchPipeline, texts: list[str],
                  cache: VectorCache | None) -> dict[str, np.ndarray]:
    """The normalised questions encoded as queries, in batches, through the vector cache
    (under the encoder's name + QUERY_VECTORS): a retraining encodes only new questions."""
    encoder = pipeline.encoder
    if encoder is None:
        return {}
    found, _ = encode_with_cache(encoder.encode_queries, encoder.name + QUERY_VECTORS, texts,
                                 cache, getattr(encoder, "dim", None))
    return found


def collect_examples(pipeline: SearchPipeline, gen: LoadedGeneration,
                     questions: list[TrainingQuestion], clean: Callable[[str], str],
                     progress: Callable[[str], None] | None = None,
                     encode: Callable[[list[str]], dict[str, np.ndarray]] | None = None
                     ) -> list[QueryExample]:
    """`encode`: the normalised questions -> their query vectors, in one batch (query_vectors);
    without it the pipeline encodes each question as a search does."""
    analyses = [pipeline.analyzer.analyze(q.text) for q in questions]
    vectors = (encode([pipeline.dense_query(a) for a in analyses if not a.problem])
               if encode else {})
    question_units: dict[str, list[int]] = {}
    for j, unit in enumerate(gen.units):
        if unit.kind == QUESTION:
            question_units.setdefault(unit.text, []).append(j)
    examples = []
    started = time.perf_counter()
    for n, (q, a) in enumerate(zip(questions, analyses, strict=True)):
        if progress and n and n % 500 == 0:
            progress(f"ranker training: {n}/{len(questions)} questions"
                     f" ({time.perf_counter() - started:.0f}s)")
        if a.problem:
            continue
        hide = frozenset(question_units.get(q.text, ())) if q.hide_own_unit else frozenset()
        cues = pipeline.question_cues(gen, a, None, False)
        legs, _, _ = pipeline.leg_scores(gen, a, "learned", cues, hide,
                                         vectors.get(pipeline.dense_query(a)))
        found = pipeline.candidates(gen, a, legs, cues)
        if len(found.ids) == 0:
            continue
        examples.append(QueryExample(q, found.features, _relevance(gen, found.ids, q.gold, clean),
                                     gen.traits.article[found.ids]))
    return examples


# -- fitting -------------------------------------------------------------------------------------
def _train_ranker(examples: list[QueryExample]) -> lgb.Booster:
    usable = [e for e in examples if e.has_gold
              for _ in range(TUNE_REPEAT if e.question.source == TUNE else 1)]
    X = np.vstack([e.features for e in usable])
    y = np.concatenate([e.relevance for e in usable])
    data = lgb.Dataset(X, y, group=[len(e.relevance) for e in usable],
                       feature_name=list(FEATURES), free_raw_data=True)
    return lgb.train(RANKER_PARAMS, data, num_boost_round=RANKER_ROUNDS)


def _decision_rows(examples: list[QueryExample], scores: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per example: the decision features, whether the top article is right, whether one of the
    top CHOICE_ARTICLES articles is."""
    rows, right, reach = [], [], []
    for e, s in zip(examples, scores, strict=True):
        order = np.argsort(-s, kind="stable")
        feats, rel, arts = e.features[order], e.relevance[order], e.articles[order]
        ranked = ranked_articles(s[order], arts)
        rows.append(decision_row(feats, ranked))
        right.append(bool(ranked) and rel[ranked[0].position] > 0)
        reach.append(any(rel[a.position] > 0 for a in ranked[:CHOICE_ARTICLES]))
    return np.vstack(rows), np.asarray(right, float), np.asarray(reach, float)


def _train_binary(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> lgb.Booster:
    return lgb.train(DECISION_PARAMS, lgb.Dataset(X, y, weight=w), num_boost_round=DECISION_ROUNDS)


def _calibrated(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray
                ) -> tuple[lgb.Booster, Calibration, np.ndarray]:
    """A binary model on all rows, the Platt scaling of its out-of-fold predictions, and those
    calibrated out-of-fold probabilities (which choose the thresholds)."""
    raw = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(X, y, groups):
        raw[test] = _train_binary(X[train], y[train], w[train]).predict(X[test])
    r = np.clip(raw, 1e-6, 1 - 1e-6)
    logit = np.log(r / (1 - r))[:, None]
    platt = LogisticRegression(C=100.0).fit(logit, y, sample_weight=w)
    calibration = Calibration(float(platt.coef_[0][0]), float(platt.intercept_[0]))
    return _train_binary(X, y, w), calibration, np.asarray(calibration(raw))


def _lowest_threshold(p: np.ndarray, bad: np.ndarray, total: int, budget: float) -> float:
    """The lowest threshold t such that the rows with p >= t that are bad stay within
    `budget` of `total` (more answers for the same risk); 1.01 when none qualifies."""
    best = 1.01
    for t in sorted(set(np.round(p, 4).tolist()), reverse=True):
        if ((p >= t) & bad).sum() / max(total, 1) <= budget:
            best = t
        else:
            break
    return float(best)


@dataclass(frozen=True)
class TrainingReport:
    examples: int
    by_source: dict
    tuning: dict  # out-of-fold outcome rates on the tuning half at the chosen thresholds
    seconds: float

    def to_json(self) -> dict:
        return {"examples": self.examples, "by_source": self.by_source, "tuning": self.tuning,
                "seconds": round(self.seconds, 1)}


def fit(examples: list[QueryExample], max_wrong_rate: float = 0.03
        ) -> tuple[LearnedRanker, TrainingReport]:
    started = time.perf_counter()
    groups = np.asarray([e.question.group for e in examples], dtype=object)
    oof: list[np.ndarray] = [np.zeros(0)] * len(examples)
    for train, test in GroupKFold(n_splits=FOLDS).split(np.zeros(len(examples)), None, groups):
        booster = _train_ranker([examples[i] for i in train])
        for i in test:
            oof[i] = np.asarray(booster.predict(examples[i].features), float)
    rows, right, reach = _decision_rows(examples, oof)
    weights = np.asarray([e.weight for e in examples])
    answer, answer_cal, p_answer = _calibrated(rows, right, weights, groups)
    reach_model, reach_cal, p_reach = _calibrated(rows, reach, weights, groups)

    tune = np.asarray([e.question.source == TUNE for e in examples])
    n_tune = int(tune.sum())
    threshold = _lowest_threshold(p_answer[tune], right[tune] == 0, n_tune, max_wrong_rate)
    # Where the hand-set rule vouches for the opinion's top clause and both rankings agree
    # (the hand-set decision was calibrated on the opinion and does better there), a lower
    # probability suffices: chosen on the tuning questions whose top is the opinion's, within
    # its own share of wrong answers among them.
    agrees = np.asarray([rules_agree(r) for r in rows])
    policy_top = np.asarray([top_is_policy(r) for r in rows])
    extra = tune & agrees & (p_answer < threshold)
    n_policy = int((tune & policy_top).sum())
    agreement = _lowest_threshold(p_answer[extra], right[extra] == 0, max(n_policy, 1),
                                  max_wrong_rate)
    answered = tune & ((p_answer >= threshold) | (agrees & (p_answer >= agreement)))
    declined = tune & ~answered
    choice = _lowest_threshold(p_reach[declined], reach[declined] == 0, n_tune, max_wrong_rate)
    offered = declined & (p_reach >= choice)
    with_gold = tune & np.asarray([e.has_gold or bool(e.question.gold) for e in examples])
    tuning = {
        "questions": n_tune,
        "with_gold": int(with_gold.sum()),
        "hit@1": round(float(right[with_gold].mean()), 3) if with_gold.any() else 0.0,
        "right": round(float((answered & (right == 1)).sum() / max(n_tune, 1)), 3),
        "wrong": round(float((answered & (right == 0)).sum() / max(n_tune, 1)), 3),
        "choice": round(float(offered.sum() / max(n_tune, 1)), 3),
        "choice_without_gold": int((offered & (reach == 0)).sum()),
        "declined": round(float((declined & ~offered).sum() / max(n_tune, 1)), 3),
        "answer_threshold": round(threshold, 4), "choice_threshold": round(choice, 4),
        "agreement_threshold": round(agreement, 4),
    }
    policy = DecisionPolicy(answer_threshold=threshold, choice_threshold=choice,
                            agreement_threshold=agreement, max_wrong_rate=max_wrong_rate,
                            report=tuning)
    ranker = LearnedRanker(_train_ranker(examples), answer, answer_cal, reach_model, reach_cal,
                           policy)
    by_source: dict[str, int] = {}
    for e in examples:
        by_source[e.question.source] = by_source.get(e.question.source, 0) + 1
    report = TrainingReport(len(examples), by_source, tuning, time.perf_counter() - started)
    ranker.manifest = {"training": report.to_json(), "lightgbm": lgb.__version__}
    return ranker, report


def training_key(gen: LoadedGeneration, questions: list[TrainingQuestion], extra: dict) -> str:
    """What the trained ranker depends on: the units and passages, the questions and their
    golds, the settings that shape the features, and this module's version."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": TRAINING_VERSION, "features": FEATURES, "lightgbm": lgb.__version__,
                         "extra": extra}, sort_keys=True, default=str).encode())
    for p in gen.passages:
        h.update(f"{p.passage_id}\x1f{p.doc_id}\x1f{p.clause_key}\x1f{p.text}\x1e".encode())
    for u in gen.units:
        h.update(f"{u.kind}\x1f{u.text}\x1f{u.targets}\x1e".encode())
    for q in questions:
        h.update(f"{q.text}\x1f{q.gold}\x1f{q.source}\x1e".encode())
    h.update(json.dumps(gen.documents, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


class RankerTrainer:
    """Trains the ranker for a generation about to go live and stores it in its directory.

    A trained ranker is also kept in a cache beside the vector cache, keyed by everything it
    depends on (`training_key`), so that another home built from the same data (tests, CI, a
    second machine's first run) takes it instead of training again."""

    def __init__(self, settings: KnowledgeSettings, load: Callable[[Path], LoadedGeneration],
                 pipeline: SearchPipeline, clean: Callable[[str], str],
                 questions: list[AnticipatedQuestion],
                 progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.load = load
        self.pipeline = pipeline
        self.clean = clean
        self.questions = questions
        self.say = progress or (lambda _msg: None)

    def training_questions(self) -> list[TrainingQuestion]:
        s = self.settings
        return (anticipated_training(self.questions) + tuning_training(s.ranker_tuning_sets)
                + nlu_negatives(s.ranker_negatives))

    def _cache_dir(self) -> Path | None:
        root = self.settings.vector_cache_dir
        return Path(root).parent / "rankers" if root else None

    def train_into(self, staging: Path) -> dict:
        gen = self.load(staging)
        questions = self.training_questions()
        s = self.settings
        key = training_key(gen, questions, {
            "encoder": self.pipeline.encoder.name if self.pipeline.encoder else None,
            "max_wrong": s.ranker_max_wrong_rate, "question_weight": s.question_weight,
            "question_mode": s.question_mode, "rescue": (s.rescue_min_score,
                                                         s.rescue_min_coverage),
            "expansion": s.expansion_weight, "depth": s.dense_depth,
            "bm25": s.bm25_enabled, "anticipated": s.anticipated_questions,
            "dense_always": s.dense_always,
            "query_chars": (s.max_query_chars, s.dense_query_chars),
            # the data the features read: the glossary, the cues, the word lists
            "data": {name: hashlib.sha256((s.data_dir / name).read_bytes()).hexdigest()
                     for name in FEATURE_DATA if (s.data_dir / name).exists()}})
        target = staging / RANKER_DIR
        cache = self._cache_dir()
        cached = cache / key if cache else None
        if cached is not None and (cached / "decision.json").exists():
            try:
                shutil.copytree(cached, target)
                self.say(f"ranker {key} taken from the cache")
                return {"key": key, "cached": True}
            except OSError as exc:
                shutil.rmtree(target, ignore_errors=True)
                log.warning("ranker cache unreadable (%s); training", exc)
        self.say(f"ranker training: {len(questions)} questions")
        cache = open_vector_cache(s.vector_cache_dir)
        encode = ((lambda texts: query_vectors(self.pipeline, texts, cache))
                  if gen.dense is not None else None)
        examples = collect_examples(self.pipeline, gen, questions, self.clean, self.say, encode)
        ranker, report = fit(examples, s.ranker_max_wrong_rate)
        ranker.manifest["key"] = key
        ranker.save(target)
        self.say(f"ranker trained in {report.seconds:.0f}s: tuning {report.tuning}")
        if cached is not None:
            self._store(target, cached)
        return {"key": key, "cached": False, **report.to_json()}

    @staticmethod
    def _store(source: Path, cached: Path) -> None:
        """Copied under a temporary name and renamed: a reader never sees half a ranker."""
        try:
            cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = cached.parent / f".{cached.name}.{uuid.uuid4().hex[:8]}"
            shutil.copytree(source, tmp)
            try:
                tmp.rename(cached)
            except OSError:  # another process stored it first
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:
            log.warning("ranker not cached (%s)", exc)
