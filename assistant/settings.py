"""Where the servers listen and where their state lives, in one typed object.

Read from the environment so that `make run`, the tests and a deployment differ only in
variables, never in code.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RuntimeSettings:
    root: Path = PROJECT_ROOT
    rasa_port: int = 5005
    action_port: int = 5055
    host: str = "127.0.0.1"
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    startup_timeout: float = 300.0
    console_port: int = 5080
    # Rasa's HTTP API (conversation events) is on only for the console, behind this token;
    # generated per run unless set, and handed to the console process by the supervisor.
    rasa_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session_hours: float = 8.0  # a console login lasts one working day

    @property
    def rasa_python(self) -> Path:
        return self.root / ".venv-rasa" / "bin" / "python"

    @property
    def actions_python(self) -> Path:
        return self.root / ".venv-actions" / "bin" / "python"

    @property
    def tracker_db(self) -> Path:
        return self.var_dir / "rasa" / "tracker.db"

    @property
    def console_db(self) -> Path:
        return self.var_dir / "console" / "console.db"

    @property
    def console_url(self) -> str:
        return f"http://{self.host}:{self.console_port}"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def jieba_dict_dir(self) -> Path:
        return self.var_dir / "nlu" / "jieba"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        d = cls()
        var_dir = Path(env.get("ASSISTANT_VAR_DIR", d.var_dir))
        return cls(
            rasa_port=int(env.get("RASA_PORT", d.rasa_port)),
            action_port=int(env.get("ACTION_PORT", d.action_port)),
            host=env.get("ASSISTANT_HOST", d.host),
            var_dir=var_dir,
            models_dir=Path(env.get("ASSISTANT_MODELS_DIR", d.models_dir)),
            startup_timeout=float(env.get("ASSISTANT_STARTUP_TIMEOUT", d.startup_timeout)),
            console_port=int(env.get("CONSOLE_PORT", d.console_port)),
            rasa_api_token=env.get("RASA_API_TOKEN") or d.rasa_api_token,
            session_hours=float(env.get("CONSOLE_SESSION_HOURS", d.session_hours)),
        )

    def process_env(self) -> dict[str, str]:
        """What a child process needs to rebuild these settings with `from_env`."""
        return {
            "RASA_PORT": str(self.rasa_port), "ACTION_PORT": str(self.action_port),
            "ASSISTANT_HOST": self.host, "ASSISTANT_VAR_DIR": str(self.var_dir),
            "ASSISTANT_MODELS_DIR": str(self.models_dir), "CONSOLE_PORT": str(self.console_port),
            "RASA_API_TOKEN": self.rasa_api_token, "CONSOLE_SESSION_HOURS": str(self.session_hours),
        }
