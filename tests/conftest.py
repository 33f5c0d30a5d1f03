"""Fixtures shared by every suite: a real knowledge base built from the shipped sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.checkout_state import VarChanges, changes, snapshot

# tests/rasa_runtime exercises the custom Rasa components and runs in Rasa's Python 3.10 runtime
# (see the Makefile's `test` target); this runtime has no Rasa to import them with.
collect_ignore = ["rasa_runtime"]

# The live-server fixtures (real Rasa and action servers) for the e2e and security suites.
pytest_plugins = ["tests.live_servers"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOC_ID = "hebei-differentiated-control-opinion"
# No test may leave anything here (tests/checkout_state.py): `make run` owns it.
CHECKOUT_VAR = PROJECT_ROOT / "var"
_VAR_BEFORE = pytest.StashKey[frozenset]()
_VAR_CHANGES = pytest.StashKey[VarChanges]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_VAR_BEFORE] = snapshot(CHECKOUT_VAR)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fails the run when a path appeared or disappeared in the checkout's var/."""
    before = session.config.stash.get(_VAR_BEFORE, None)
    if before is None:
        return
    found = changes(before, snapshot(CHECKOUT_VAR))
    if found:
        session.config.stash[_VAR_CHANGES] = found
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    found = config.stash.get(_VAR_CHANGES, None)
    if found:
        terminalreporter.write_sep("=", "the checkout's var/ changed", red=True, bold=True)
        terminalreporter.write_line(found.describe(CHECKOUT_VAR))


@pytest.fixture(scope="session")
def built_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The opinion alone (KB_RELATED_SOURCES=false) with the default dense leg, ingested into a
    fresh store and index in a temporary home: the opinion's own retrieval measures."""
    kb = KnowledgeBase(KnowledgeSettings(home=tmp_path_factory.mktemp("kb"),
                                         related_sources=False))
    kb.ingest_sources()
    return kb


@pytest.fixture(scope="session")
def related_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The opinion and the related rules (the whole corpus), BM25 only: builds in seconds."""
    kb = KnowledgeBase(KnowledgeSettings(home=tmp_path_factory.mktemp("kb-related"),
                                         related_sources=True, dense_model="none"))
    kb.ingest_sources()
    return kb
