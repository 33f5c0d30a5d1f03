"""Starts, health-checks and stops the two servers; shared by `make run` and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from assistant.channels.wechat_config import env_defaults as wechat_env_defaults
from assistant.settings import RuntimeSettings


class ServerStartError(RuntimeError):
    pass


@dataclass
class ServerProcess:
    name: str
    cmd: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.cmd, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,  # own group: stop kills workers
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n"
                    + self.tail()
                )
            if self.healthy():
                return
            time.sleep(0.5)
        raise ServerStartError(f"{self.name} not healthy after {timeout:.0f}s; see {self.log_path}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait()


def action_server(settings: RuntimeSettings, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(
        name="action server",
        cmd=[str(settings.actions_python), "-m", "assistant.action_server",
             "--port", str(settings.action_port)],
        health_url=f"{settings.action_url}/health",
        log_path=settings.log_dir / "action-server.log",
        env={"PYTHONPATH": str(settings.root), "SANIC_HOST": settings.host, **(env or {})},
        cwd=settings.root,
    )


def rasa_server(settings: RuntimeSettings, model: Path,
                env: dict[str, str] | None = None) -> ServerProcess:
    settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        name="rasa server",
        cmd=[str(settings.rasa_python), "-m", "rasa", "run", "--model", str(model),
             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
             "--interface", settings.host, "--port", str(settings.rasa_port), "--cors", "*",
             # The HTTP API lets the console append staff replies and pause/resume a
             # conversation; without the token every API call is refused.
             "--enable-api", "--auth-token", settings.rasa_api_token],
        health_url=f"{settings.rasa_url}/",
        log_path=settings.log_dir / "rasa-server.log",
        env={
            "PYTHONPATH": str(settings.root),
            "ACTION_ENDPOINT_URL": f"{settings.action_url}/webhook",
            "TRACKER_DB": str(settings.tracker_db),
            **wechat_env_defaults(),  # credentials.yml names WECHAT_*; Rasa needs each one set
            **(env or {}),
        },
        cwd=settings.root,
    )


def console_server(settings: RuntimeSettings, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(
        name="staff console",
        cmd=[str(settings.actions_python), "-m", "assistant.console"],
        health_url=f"{settings.console_url}/api/health",
        log_path=settings.log_dir / "console.log",
        env={"PYTHONPATH": str(settings.root), **settings.process_env(), **(env or {})},
        cwd=settings.root,
    )
