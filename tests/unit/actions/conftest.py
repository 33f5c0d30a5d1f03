"""Fixtures for the action unit tests, in the style of Rasa's reference assistants.

A test loads a tracker from a JSON fixture in `fixtures/`, runs the action with a
`CollectingDispatcher` and the domain (domain.yml as a dict), and asserts on the events the
action returns and on `dispatcher.messages`.

The actions find their knowledge base through `actions.knowledge_client`, which builds it once
from the KB_* environment. `kb_env` points that environment at a real knowledge base ingested
from the shipped sources into a temporary home (lexical leg only: KB_DENSE_MODEL=none),
`related_kb_env` at one that also holds the laws the opinion rests on (KB_RELATED_SOURCES=true,
the session's `related_kb`), and `unavailable_kb` at a home where nothing was ingested.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import knowledge_client
from knowledge.knowledge_base import KnowledgeBase
from knowledge.paths import PROJECT_ROOT
from knowledge.settings import KnowledgeSettings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOMAIN_PATH = PROJECT_ROOT / "domain.yml"

TrackerLoader = Callable[..., Tracker]
ActionRunner = Callable[[Action, Tracker], list[dict[str, Any]]]


# -- trackers, dispatcher, domain -----------------------------------------------------------
@pytest.fixture
def load_tracker() -> TrackerLoader:
    """`load_tracker(name, text=..., intent=..., **slots)`: the tracker of fixtures/<name>.json.

    Each call reads the file again: rasa-sdk's form validation appends events to the tracker
    it is given. `text` replaces what the user said (in `latest_message` and in the last user
    event), `intent` the intent NLU gave it, and keyword arguments set slots, so that one
    fixture serves the variants of one situation.
    """

    def load(name: str, *, text: str | None = None, intent: str | None = None,
             **slots: Any) -> Tracker:
        state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        user_events = [e for e in state.get("events", []) if e.get("event") == "user"]
        parsed = [state["latest_message"], *(e["parse_data"] for e in user_events[-1:])]
        if text is not None:
            for message in [*parsed, *user_events[-1:]]:
                message["text"] = text
        if intent is not None:
            for message in parsed:
                message["intent"] = {"name": intent, "confidence": 0.95}
        state.setdefault("slots", {}).update(slots)
        return Tracker.from_dict(state)

    return load


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def domain() -> DomainDict:
    return yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def run_action(dispatcher: CollectingDispatcher, domain: DomainDict) -> ActionRunner:
    """Runs an action's (async) `run` as the action server would; returns its events."""

    def run(action: Action, tracker: Tracker) -> list[dict[str, Any]]:
        return asyncio.run(action.run(dispatcher, tracker, domain))

    return run


@pytest.fixture
def render(domain: DomainDict) -> Callable[[dict[str, Any]], str]:
    """The text a collected message shows the user: its domain response filled with the
    values the action passed (as Rasa fills `{name}` placeholders), or its own text."""

    def render_message(message: dict[str, Any]) -> str:
        if not message.get("response"):
            return message.get("text") or ""
        [variant] = domain["responses"][message["response"]]
        return variant["text"].format_map(message)

    return render_message


# -- the knowledge base the actions use -----------------------------------------------------
def reset_knowledge_client() -> None:
    """Forgets the knowledge objects `actions.knowledge_client` created (it caches them)."""
    knowledge_client.knowledge_base.cache_clear()
    knowledge_client.eligibility_engine.cache_clear()
    knowledge_client.profile_extractor.cache_clear()


def _point_actions_at(monkeypatch: pytest.MonkeyPatch, home: Path,
                      related_sources: bool = False) -> None:
    """Sets the KB_* environment for a knowledge base in `home` and drops a cached knowledge
    base that was built from other settings.

    A cached one built from these very settings is kept: each new KnowledgeBase loads jieba's
    dictionary again (about a second), and the tests only read from it.
    """
    for name in [n for n in os.environ if n.startswith("KB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_DENSE_MODEL", "none")
    monkeypatch.setenv("KB_RELATED_SOURCES", "true" if related_sources else "false")
    cached = (knowledge_client.knowledge_base()
              if knowledge_client.knowledge_base.cache_info().currsize else None)
    if cached is None or cached.settings != KnowledgeSettings():
        reset_knowledge_client()


@pytest.fixture(scope="session")
def action_kb_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The opinion alone (KB_RELATED_SOURCES=false) ingested into a fresh store and index in a
    temporary home: the opinion's own replies, without the laws competing for them.

    Not the shared `built_kb`: that one is built with the default dense model ("auto"), whose
    load alone takes longer than this whole suite.
    """
    home = tmp_path_factory.mktemp("actions-kb")
    KnowledgeBase(KnowledgeSettings(home=home, dense_model="none",
                                    related_sources=False)).ingest_sources()
    yield home
    reset_knowledge_client()


@pytest.fixture
def kb_env(monkeypatch: pytest.MonkeyPatch, action_kb_home: Path) -> KnowledgeBase:
    """The actions use the real knowledge base of `action_kb_home`; returns it."""
    _point_actions_at(monkeypatch, action_kb_home)
    return knowledge_client.knowledge_base()


@pytest.fixture
def related_kb_env(monkeypatch: pytest.MonkeyPatch, related_kb: KnowledgeBase) -> KnowledgeBase:
    """The actions use the whole corpus: the opinion, the laws in force and the three laws the
    生态环境法典 repealed (tests/conftest.py builds it once per session, BM25 only)."""
    _point_actions_at(monkeypatch, related_kb.settings.home, related_sources=True)
    return knowledge_client.knowledge_base()


@pytest.fixture
def unavailable_kb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The actions' knowledge base has never been ingested: no store content, no index."""
    _point_actions_at(monkeypatch, tmp_path / "never-ingested")
    yield
    reset_knowledge_client()
