"""Helpers the knowledge-base unit tests share: a freshly ingested store, a file to upload."""

from __future__ import annotations

from pathlib import Path

from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings


def make_kb(home: Path) -> KnowledgeBase:
    kb = KnowledgeBase(KnowledgeSettings(home=home, dense_model="none", related_sources=False,
                                         reload_check_seconds=0.0))
    kb.ingest_sources()
    return kb


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
