"""Starts the scaled profile for real: PostgreSQL, Redis, two Rasa instances and two action
servers behind nginx, and the console, on free loopback ports, through the same deployment
code as `make run PROFILE=scaled`. PostgreSQL, Redis and nginx are Debian's packages, which
`make test` installs with `bootstrap.sh services`; everything is torn down after the suite."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from assistant.scaleout.deployment import Deployment, build_deployment
from assistant.scaleout.ports import on_free_ports
from assistant.servers import ServerProcess
from assistant.settings import SCALED, RuntimeSettings
from knowledge.knowledge_base import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.live_servers import trained_model

CONSOLE_PASSWORD = "scaled-test-password"
WECHAT_TOKEN = "scaledWeChatToken"


@dataclass
class ScaledAssistant:
    settings: RuntimeSettings
    deployment: Deployment
    client: httpx.Client
    kb_home: Path

    @property
    def front(self) -> str:
        """nginx: where users' channels point."""
        return self.settings.rasa_url

    def instance_url(self, n: int) -> str:
        return f"http://{self.settings.host}:{self.settings.scale.rasa_ports()[n - 1]}"

    def rasa(self, n: int) -> ServerProcess:
        return self.deployment.get(f"rasa server {n}")

    def action_server(self, n: int) -> ServerProcess:
        return self.deployment.get(f"action server {n}")

    def send(self, sender: str, message: str, base: str | None = None) -> list[str]:
        resp = self.client.post(f"{base or self.front}/webhooks/rest/webhook",
                                json={"sender": sender, "message": message})
        resp.raise_for_status()
        return [m.get("text", "") for m in resp.json()]

    def reply(self, sender: str, message: str, base: str | None = None) -> str:
        return "\n".join(self.send(sender, message, base))

    def events(self, sender: str) -> list[dict]:
        """The conversation as PostgreSQL holds it, oldest first."""
        with psycopg.connect(self.settings.scale.postgres_dsn) as conn:
            rows = conn.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id",
                                (sender,)).fetchall()
        return [json.loads(data) for (data,) in rows]

    def tracker(self, sender: str, base: str | None = None) -> dict:
        """The tracker as a Rasa instance rebuilds it (Rasa's HTTP API)."""
        resp = self.client.get(f"{base or self.front}/conversations/{sender}/tracker",
                               params={"token": self.settings.rasa_api_token})
        resp.raise_for_status()
        return resp.json()

    def action_generation(self, n: int) -> str | None:
        """The index generation action server `n` serves (its readiness check says)."""
        port = self.settings.scale.action_ports()[n - 1]
        body = self.client.get(f"http://{self.settings.host}:{port}/ready").json()
        return next((c.get("detail") for name, c in body["checks"].items() if "index" in name),
                    None)

    def restart(self, process: ServerProcess) -> None:
        if not process.running:
            process.start()
        process.wait_healthy(180)

    def wait_until_balanced(self, timeout: float = 30) -> None:
        """Until nginx passes requests to both tiers again (it skips a failed upstream for
        a few seconds after its last failure)."""
        deadline = time.monotonic() + timeout
        urls = [f"{self.front}/", f"{self.settings.action_url}/health"]
        while time.monotonic() < deadline:
            try:
                if all(self.client.get(u, timeout=5).status_code == 200 for u in urls):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the balancer did not recover within {timeout:.0f}s")


@pytest.fixture(scope="session")
def scaled_kb_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("scaled-kb")
    KnowledgeBase(KnowledgeSettings(home=home)).ingest_sources()
    return home


@pytest.fixture(scope="session")
def postgres_dir() -> Iterator[Path]:
    """Outside pytest's private tmp tree: under root, PostgreSQL runs as the postgres user,
    which must be able to reach its data directory."""
    parent = Path(tempfile.mkdtemp(prefix="assistant-scaled-pg-"))
    os.chmod(parent, 0o755)
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def scaled(tmp_path_factory: pytest.TempPathFactory, scaled_kb_home: Path,
           postgres_dir: Path) -> Iterator[ScaledAssistant]:
    base = RuntimeSettings()
    settings = on_free_ports(
        base.model_copy(update={"profile": SCALED, "var_dir": tmp_path_factory.mktemp("scaled-var")}),
        postgres_dir)
    deployment = build_deployment(settings, trained_model(),
                                  action_env={"KB_HOME": str(scaled_kb_home)})
    for process in deployment:
        if process.name == "staff console":  # publishes to the action servers' knowledge base
            process.env.update(CONSOLE_ADMIN_PASSWORD=CONSOLE_PASSWORD,
                               KB_HOME=str(scaled_kb_home))
        if process.name.startswith("rasa server"):
            process.env["WECHAT_TOKEN"] = WECHAT_TOKEN  # plaintext mode, passive replies
    try:
        deployment.start(300)
        with httpx.Client(timeout=60) as client:
            yield ScaledAssistant(settings, deployment, client, scaled_kb_home)
    finally:
        deployment.stop()
