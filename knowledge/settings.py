"""All knowledge-base configuration in one typed object, read from the environment.

Defaults suit a developer checkout; deployments override with KB_* variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class KnowledgeSettings:
    home: Path = PROJECT_ROOT / "var" / "kb"
    sources_manifest: Path = PROJECT_ROOT / "knowledge" / "sources" / "manifest.yml"
    data_dir: Path = PROJECT_ROOT / "knowledge" / "data"
    top_k: int = 3
    # Answerability: below these the assistant says the policy does not cover the question
    # instead of presenting an unrelated passage (calibrated by tests/unit/test_answerability).
    min_score: float = 3.0
    min_coverage: float = 0.5
    # How often the action server checks whether a new index generation was published.
    reload_check_seconds: float = 2.0

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite"

    @property
    def index_root(self) -> Path:
        return self.home / "index"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KnowledgeSettings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            home=Path(env.get("KB_HOME", defaults.home)),
            sources_manifest=Path(env.get("KB_SOURCES_MANIFEST", defaults.sources_manifest)),
            data_dir=Path(env.get("KB_DATA_DIR", defaults.data_dir)),
            top_k=int(env.get("KB_TOP_K", defaults.top_k)),
            min_score=float(env.get("KB_MIN_SCORE", defaults.min_score)),
            min_coverage=float(env.get("KB_MIN_COVERAGE", defaults.min_coverage)),
            reload_check_seconds=float(
                env.get("KB_RELOAD_CHECK_SECONDS", defaults.reload_check_seconds)
            ),
        )
