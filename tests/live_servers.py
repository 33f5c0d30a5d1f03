"""Fixtures that start the real action server and Rasa server on free ports (session scope).

Registered for every suite by tests/conftest.py (`pytest_plugins`); the end-to-end and security
suites use them, and a suite that does not ask for them starts nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.model_builder import fingerprint
from assistant.scaleout.ports import free_port
from assistant.servers import ServerProcess, action_server, rasa_server
from assistant.settings import RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings


@dataclass
class Assistant:
    """Talks to the running Rasa server over its REST channel, as a user's client would."""

    settings: RuntimeSettings
    client: httpx.Client

    def send(self, sender: str, message: str) -> list[str]:
        resp = self.client.post(
            f"{self.settings.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
        )
        resp.raise_for_status()
        return [m.get("text", "") for m in resp.json()]

    def reply(self, sender: str, message: str) -> str:
        return "\n".join(self.send(sender, message))

    def trigger(self, sender: str, intent: str) -> str:
        """The bot's reply to an intent sent through Rasa's HTTP API (token-protected).

        Users can no longer type "/intent" (issue 26: the channels send it as text), so a
        test that needs an exact intent, whatever the trained model makes of a text, asks
        Rasa directly, as the console would.
        """
        resp = self.client.post(
            f"{self.settings.rasa_url}/conversations/{sender}/trigger_intent",
            json={"name": intent},
            params={"token": self.settings.rasa_api_token},
        )
        resp.raise_for_status()
        return "\n".join(m.get("text", "") for m in resp.json().get("messages", []))

    def slot_events(self, sender: str) -> list[tuple[str, object]]:
        """Slot events as stored in the real SQLite tracker store, oldest first."""
        with sqlite3.connect(self.settings.tracker_db) as db:
            rows = db.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot' ORDER BY id",
                (sender,),
            ).fetchall()
        return [(json.loads(d)["name"], json.loads(d)["value"]) for (d,) in rows]

    def slots(self, sender: str) -> dict[str, object]:
        """The latest value of each slot set in the conversation."""
        return dict(self.slot_events(sender))


def trained_model() -> Path:
    """The Rasa model of this checkout, as `make model` trained it (`make test`, `make e2e` and
    `make scaled` run it first). Looked up, not built: building writes the tokenizer's jieba
    dictionary into the checkout's var/, where no test may write (issue 26, finding 13)."""
    settings = RuntimeSettings()
    # assistant/model_builder.py names the model after the fingerprint of its inputs
    model = settings.models_dir / f"policy-assistant-{fingerprint(settings.root)}.tar.gz"
    if not model.is_file():
        pytest.fail(f"no trained model {model.name} for this checkout: run `make model` first")
    return model


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> RuntimeSettings:
    var = tmp_path_factory.mktemp("var")
    return RuntimeSettings().model_copy(update={"rasa_port": free_port(), "action_port": free_port(), "var_dir": var})


@pytest.fixture(scope="session")
def kb_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("kb-home")
    KnowledgeBase(KnowledgeSettings(home=home)).ingest_sources()
    return home


@pytest.fixture(scope="session")
def action_server_process(runtime: RuntimeSettings, kb_home: Path) -> Iterator[ServerProcess]:
    server = action_server(runtime, env={"KB_HOME": str(kb_home)})
    server.start()
    try:
        server.wait_healthy(120)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rasa_server_process(runtime: RuntimeSettings) -> Iterator[ServerProcess]:
    server = rasa_server(runtime, trained_model())
    server.start()
    try:
        server.wait_healthy(300)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def assistant(
    runtime: RuntimeSettings, action_server_process: ServerProcess,
    rasa_server_process: ServerProcess,
) -> Iterator[Assistant]:
    with httpx.Client(timeout=60) as client:
        yield Assistant(runtime, client)
