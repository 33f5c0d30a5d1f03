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

EMBEDDED, SCALED = "embedded", "scaled"


@dataclass(frozen=True)
class ScaleOutSettings:
    """The scaled profile: PostgreSQL tracker store, Redis lock store, several Rasa and action
    server instances behind nginx. The balancer takes the embedded profile's public ports
    (`RuntimeSettings.rasa_port` for users, `action_port` for Rasa's action calls), so clients
    and the console do not change; instance `i` listens on `*_base_port + i`."""

    rasa_instances: int = 2
    action_instances: int = 2
    rasa_base_port: int = 5010
    action_base_port: int = 5060
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 55432
    postgres_db: str = "rasa"
    postgres_user: str = "assistant"
    # Loopback development cluster only; a deployment sets POSTGRES_PASSWORD.
    postgres_password: str = "assistant-local"
    postgres_data_dir: str = ""  # empty: var/scaled/postgres
    redis_host: str = "127.0.0.1"
    redis_port: int = 56379
    redis_db: int = 1
    # How long a conversation lock outlives a Rasa instance that died holding it (Rasa's
    # default is 60 s, during which that user would get no answer). Turns take well under 1 s.
    lock_lifetime_seconds: int = 10

    @property
    def postgres_dsn(self) -> str:
        return (f"postgresql://{self.postgres_user}:{self.postgres_password}"
                f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}")

    def rasa_ports(self) -> list[int]:
        return [self.rasa_base_port + i for i in range(self.rasa_instances)]

    def action_ports(self) -> list[int]:
        return [self.action_base_port + i for i in range(self.action_instances)]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ScaleOutSettings:
        d = cls()
        return cls(
            rasa_instances=int(env.get("SCALE_RASA_INSTANCES", d.rasa_instances)),
            action_instances=int(env.get("SCALE_ACTION_INSTANCES", d.action_instances)),
            rasa_base_port=int(env.get("SCALE_RASA_BASE_PORT", d.rasa_base_port)),
            action_base_port=int(env.get("SCALE_ACTION_BASE_PORT", d.action_base_port)),
            postgres_host=env.get("POSTGRES_HOST", d.postgres_host),
            postgres_port=int(env.get("POSTGRES_PORT", d.postgres_port)),
            postgres_db=env.get("POSTGRES_DB", d.postgres_db),
            postgres_user=env.get("POSTGRES_USER", d.postgres_user),
            postgres_password=env.get("POSTGRES_PASSWORD", d.postgres_password),
            postgres_data_dir=env.get("POSTGRES_DATA_DIR", d.postgres_data_dir),
            redis_host=env.get("REDIS_HOST", d.redis_host),
            redis_port=int(env.get("REDIS_PORT", d.redis_port)),
            redis_db=int(env.get("REDIS_DB", d.redis_db)),
            lock_lifetime_seconds=int(env.get("TICKET_LOCK_LIFETIME", d.lock_lifetime_seconds)),
        )

    def process_env(self) -> dict[str, str]:
        """The variables endpoints-scaled.yml names, and what `from_env` reads back."""
        return {
            "SCALE_RASA_INSTANCES": str(self.rasa_instances),
            "SCALE_ACTION_INSTANCES": str(self.action_instances),
            "SCALE_RASA_BASE_PORT": str(self.rasa_base_port),
            "SCALE_ACTION_BASE_PORT": str(self.action_base_port),
            "POSTGRES_HOST": self.postgres_host, "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_DB": self.postgres_db, "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "POSTGRES_DATA_DIR": self.postgres_data_dir,
            "REDIS_HOST": self.redis_host, "REDIS_PORT": str(self.redis_port),
            "REDIS_DB": str(self.redis_db),
            "TICKET_LOCK_LIFETIME": str(self.lock_lifetime_seconds),
        }


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
    # generated per run unless set, and handed to the console process by the supervisor. Hex:
    # a urlsafe token may start with "-", which `rasa run --auth-token` takes for an option.
    rasa_api_token: str = field(default_factory=lambda: secrets.token_hex(24))
    session_hours: float = 8.0  # a console login lasts one working day
    profile: str = EMBEDDED  # embedded | scaled
    scale: ScaleOutSettings = field(default_factory=ScaleOutSettings)

    def __post_init__(self) -> None:
        if self.profile not in (EMBEDDED, SCALED):
            raise ValueError(f"ASSISTANT_PROFILE must be {EMBEDDED} or {SCALED}, "
                             f"not {self.profile!r}")

    @property
    def scaled(self) -> bool:
        return self.profile == SCALED

    @property
    def endpoints_file(self) -> Path:
        return self.root / ("endpoints-scaled.yml" if self.scaled else "endpoints.yml")

    @property
    def scaled_dir(self) -> Path:
        """Data of the scaled profile's own PostgreSQL, Redis and nginx."""
        return self.var_dir / "scaled"

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
            profile=env.get("ASSISTANT_PROFILE", d.profile),
            scale=ScaleOutSettings.from_env(env),
        )

    def process_env(self) -> dict[str, str]:
        """What a child process needs to rebuild these settings with `from_env`."""
        return {
            "RASA_PORT": str(self.rasa_port), "ACTION_PORT": str(self.action_port),
            "ASSISTANT_HOST": self.host, "ASSISTANT_VAR_DIR": str(self.var_dir),
            "ASSISTANT_MODELS_DIR": str(self.models_dir), "CONSOLE_PORT": str(self.console_port),
            "RASA_API_TOKEN": self.rasa_api_token, "CONSOLE_SESSION_HOURS": str(self.session_hours),
            "ASSISTANT_PROFILE": self.profile, **self.scale.process_env(),
        }
