"""Where the servers listen and where their state lives, in typed settings objects.

Read from the environment (pydantic-settings) so that `make run`, the tests and a deployment
differ only in variables, never in code; each field names its variable. `process_env` writes
them back for a child process, which reads them again with the same class.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.paths import PROJECT_ROOT

EMBEDDED, SCALED = "embedded", "scaled"
Profile = Literal["embedded", "scaled"]


def _env(name: str, default, **kw):
    """A field read from the environment variable `name` (and settable by field name)."""
    return Field(default, validation_alias=name, **kw)


class _EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def process_env(self) -> dict[str, str]:
        """The variables a child process needs to rebuild these settings (secrets included:
        they travel in the child's environment, never on its command line)."""
        env: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, _EnvSettings):
                env.update(value.process_env())
            elif isinstance(info.validation_alias, str):
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                env[info.validation_alias] = str(value)
        return env


class ClusterPasswordUnknown(RuntimeError):
    """The scaled profile's PostgreSQL cluster exists, but the password it was initialised with
    is not the one configured (or its password file is gone). The message says, in Chinese and
    English, what the operator can do; `make run` prints it instead of a traceback."""

    def __init__(self, data_dir: Path, password_file: Path, missing: bool) -> None:
        if missing:
            zh = (f"{data_dir} 是旧的数据库集群，密码文件 {password_file} 缺失：请删除 {data_dir} "
                  "后重试（其中的对话会丢失），或将 POSTGRES_PASSWORD 设为该集群的密码。")
            en = (f"{data_dir} is an existing PostgreSQL cluster but its password file "
                  f"{password_file} is missing: delete {data_dir} and retry (its conversations "
                  "are lost), or set POSTGRES_PASSWORD to the cluster's password.")
        else:
            zh = (f"{data_dir} 的数据库集群不接受配置的密码（POSTGRES_PASSWORD 或 "
                  f"{password_file}）：请设置该集群的密码，或删除 {data_dir} 后重试"
                  "（其中的对话会丢失）。")
            en = (f"the PostgreSQL cluster in {data_dir} refuses the configured password "
                  f"(POSTGRES_PASSWORD or {password_file}): set the cluster's password, or "
                  f"delete {data_dir} and retry (its conversations are lost).")
        super().__init__(f"{zh}\n{en}")
        self.data_dir = data_dir


class ScaleOutSettings(_EnvSettings):
    """The scaled profile: PostgreSQL tracker store, Redis lock store, several Rasa and action
    server instances behind nginx. The balancer takes the embedded profile's public ports
    (`RuntimeSettings.rasa_port` for users, `action_port` for Rasa's action calls), so clients
    and the console do not change; instance `i` listens on `*_base_port + i`."""

    rasa_instances: int = _env("SCALE_RASA_INSTANCES", 2)
    action_instances: int = _env("SCALE_ACTION_INSTANCES", 2)
    rasa_base_port: int = _env("SCALE_RASA_BASE_PORT", 5010)
    action_base_port: int = _env("SCALE_ACTION_BASE_PORT", 5060)
    postgres_host: str = _env("POSTGRES_HOST", "127.0.0.1")
    postgres_port: int = _env("POSTGRES_PORT", 55432)
    postgres_db: str = _env("POSTGRES_DB", "rasa")
    postgres_user: str = _env("POSTGRES_USER", "assistant")
    # No default that looks like a password: empty means the project's own loopback cluster,
    # whose password is generated once and kept in var/scaled/postgres.password (mode 0600;
    # `RuntimeSettings.with_local_secrets`). A deployment sets POSTGRES_PASSWORD.
    postgres_password: SecretStr = _env("POSTGRES_PASSWORD", SecretStr(""))
    postgres_data_dir: str = _env("POSTGRES_DATA_DIR", "")  # empty: var/scaled/postgres
    redis_host: str = _env("REDIS_HOST", "127.0.0.1")
    redis_port: int = _env("REDIS_PORT", 56379)
    redis_db: int = _env("REDIS_DB", 1)
    # How long a conversation lock outlives a Rasa instance that died holding it (Rasa's
    # default is 60 s, during which that user would get no answer). Turns take well under 1 s.
    lock_lifetime_seconds: int = _env("TICKET_LOCK_LIFETIME", 10)

    @property
    def postgres_dsn(self) -> str:
        return (f"postgresql://{self.postgres_user}:{self.postgres_password.get_secret_value()}"
                f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}")

    def rasa_ports(self) -> list[int]:
        return [self.rasa_base_port + i for i in range(self.rasa_instances)]

    def action_ports(self) -> list[int]:
        return [self.action_base_port + i for i in range(self.action_instances)]


class RuntimeSettings(_EnvSettings):
    root: Path = PROJECT_ROOT
    rasa_port: int = _env("RASA_PORT", 5005)
    action_port: int = _env("ACTION_PORT", 5055)
    host: str = _env("ASSISTANT_HOST", "127.0.0.1")
    var_dir: Path = _env("ASSISTANT_VAR_DIR", PROJECT_ROOT / "var")
    models_dir: Path = _env("ASSISTANT_MODELS_DIR", PROJECT_ROOT / "models")
    startup_timeout: float = _env("ASSISTANT_STARTUP_TIMEOUT", 300.0)
    console_port: int = _env("CONSOLE_PORT", 5080)
    # Rasa's HTTP API (conversation events) is on only for the console, behind this token;
    # generated per run unless set, and handed to the console process by the supervisor. Hex:
    # a urlsafe token may start with "-", which `rasa run --auth-token` takes for an option.
    rasa_api_token: str = _env("RASA_API_TOKEN", "", validate_default=True)
    # The scaled profile's action servers run actions only for callers sending this secret
    # (header X-Action-Token, endpoints-scaled.yml); generated per run unless set, and handed
    # to the Rasa instances and action servers through their environment.
    action_server_token: str = _env("ACTION_SERVER_TOKEN", "", validate_default=True)
    # Signs the REST outbox tokens (assistant/channels/rest_protocol.py); generated per run
    # unless set, and the same for every Rasa instance of the run.
    rest_outbox_secret: str = _env("REST_OUTBOX_SECRET", "", validate_default=True)
    session_hours: float = _env("CONSOLE_SESSION_HOURS", 8.0)  # one working day
    # The session cookie is always `Secure` when set; without it, only on requests that came
    # over HTTPS (directly, or per X-Forwarded-Proto from a proxy uvicorn trusts).
    console_secure_cookies: bool = _env("CONSOLE_SECURE_COOKIES", False)
    # Origins besides the console's own that may send state-changing requests, separated by
    # commas or spaces, e.g. "https://console.example.gov.cn" for a reverse proxy that does
    # not pass the browser's Host header on.
    console_allowed_origins: str = _env("CONSOLE_ALLOWED_ORIGINS", "")
    profile: Profile = _env("ASSISTANT_PROFILE", EMBEDDED)
    scale: ScaleOutSettings = Field(default_factory=ScaleOutSettings)

    @field_validator("rasa_api_token")
    @classmethod
    def _generated_unless_set(cls, token: str) -> str:
        return token or secrets.token_hex(24)

    @field_validator("action_server_token", "rest_outbox_secret")
    @classmethod
    def _secret_generated_unless_set(cls, token: str) -> str:
        return token or secrets.token_hex(24)

    def with_local_secrets(self) -> RuntimeSettings:
        """The scaled profile's own PostgreSQL password when none is configured: generated on
        first use and kept in the profile's data directory, readable by its owner only.

        Raises ClusterPasswordUnknown when the cluster exists but the file does not: a new
        password would not open it (initdb set the old one), and the run would fail later
        with PostgreSQL's "password authentication failed"."""
        if not self.scaled or self.scale.postgres_password.get_secret_value():
            return self
        path = self.postgres_password_file
        if not path.exists():
            if (self.postgres_data_path / "PG_VERSION").exists():
                raise ClusterPasswordUnknown(self.postgres_data_path, path, missing=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(24), encoding="utf-8")
        password = SecretStr(path.read_text(encoding="utf-8").strip())
        scale = self.scale.model_copy(update={"postgres_password": password})
        return self.model_copy(update={"scale": scale})

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
    def postgres_data_path(self) -> Path:
        """The scaled profile's PostgreSQL cluster: POSTGRES_DATA_DIR, else var/scaled/postgres."""
        return Path(self.scale.postgres_data_dir or self.scaled_dir / "postgres")

    @property
    def postgres_password_file(self) -> Path:
        """Where the password of the project's own cluster is kept when none is configured."""
        return self.scaled_dir / "postgres.password"

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


class ConsoleAccountSettings(BaseSettings):
    """Passwords for creating console accounts without a prompt: read by the console's own
    command only, never written into another process's environment (no `process_env`)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # `make console-user` without a prompt (scripts, tests); empty: ask on the terminal.
    password: SecretStr = Field(SecretStr(""), validation_alias="CONSOLE_PASSWORD")
    # The first start with no accounts creates `admin` with this password; empty: none.
    first_admin_password: SecretStr = Field(SecretStr(""),
                                            validation_alias="CONSOLE_ADMIN_PASSWORD")
