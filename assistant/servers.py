"""Starts, health-checks and stops the assistant's processes; shared by `make run`, the tests
and the load benchmark. `assistant/scaleout/` adds PostgreSQL, Redis and nginx for the
scaled profile."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.channels.wechat_config import WeChatSettings
from assistant.settings import RuntimeSettings

# One math thread per Rasa process. Rasa serves one turn at a time per process, and the NLU's
# matrix products are small: with a thread per core, OpenBLAS and TensorFlow workers spin while
# they wait, and under load the Rasa server burned 1.5 cores at 17 turns/s
# (bench/load_bench.py; docs/scaling.md). Scale out with instances instead.
SINGLE_THREADED_MATH = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


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
    # Non-HTTP services (PostgreSQL, Redis) say they are ready through a probe instead.
    probe: Callable[[], bool] | None = None
    user: str | None = None  # run as this system user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.cmd, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,  # own group: stop kills all
                user=self.user, group=self.user,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        if self.probe is not None:
            return self.probe()
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
        self._signal_group(self.stop_signal, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown handlers run (fault-injection tests)."""
        self._signal_group(signal.SIGKILL, timeout=15)

    def _signal_group(self, sig: int, timeout: float) -> None:
        if not self.running:
            return
        assert self.process is not None
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait()


def _instance_name(name: str, instance: int | None) -> tuple[str, str]:
    """('rasa server 2', 'rasa-server-2') for instance 2; the plain name for a single one."""
    slug = name.replace(" ", "-")
    return (name, slug) if instance is None else (f"{name} {instance}", f"{slug}-{instance}")


def action_server(settings: RuntimeSettings, env: dict[str, str] | None = None,
                  port: int | None = None, instance: int | None = None) -> ServerProcess:
    port = settings.action_port if port is None else port
    name, slug = _instance_name("action server", instance)
    return ServerProcess(
        name=name,
        cmd=[str(settings.actions_python), "-m", "action_server", "--port", str(port)],
        health_url=f"http://{settings.host}:{port}/health",
        log_path=settings.log_dir / f"{slug}.log",
        env={"PYTHONPATH": str(settings.root), "SANIC_HOST": settings.host, **(env or {})},
        cwd=settings.root,
    )


def rasa_server(settings: RuntimeSettings, model: Path, env: dict[str, str] | None = None,
                port: int | None = None, instance: int | None = None) -> ServerProcess:
    """One Rasa server. In the scaled profile (`settings.scaled`) it keeps conversations in
    PostgreSQL, locks them in Redis, and reaches the action servers through the balancer,
    which listens on `settings.action_port` in both profiles."""
    port = settings.rasa_port if port is None else port
    name, slug = _instance_name("rasa server", instance)
    settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
    store_env = settings.scale.process_env() if settings.scaled else {}
    return ServerProcess(
        name=name,
        cmd=[str(settings.rasa_python), "-m", "rasa", "run", "--model", str(model),
             "--endpoints", str(settings.endpoints_file), "--credentials", "credentials.yml",
             "--interface", settings.host, "--port", str(port), "--cors", "*",
             # The HTTP API lets the console append staff replies and pause/resume a
             # conversation; without the token every API call is refused.
             "--enable-api", "--auth-token", settings.rasa_api_token],
        health_url=f"http://{settings.host}:{port}/",
        log_path=settings.log_dir / f"{slug}.log",
        env={
            "PYTHONPATH": str(settings.root),
            "ACTION_ENDPOINT_URL": f"{settings.action_url}/webhook",
            "TRACKER_DB": str(settings.tracker_db),
            **store_env,
            **SINGLE_THREADED_MATH,
            **_shared_wechat_state(settings),
            **(env or {}),
        },
        cwd=settings.root,
    )


def _shared_wechat_state(settings: RuntimeSettings) -> dict[str, str]:
    """Scaled: WeChat messages are claimed, and the access token kept, in the profile's Redis,
    shared by every Rasa instance and the console."""
    if not settings.scaled or WeChatSettings.from_env().dedup_redis_url:
        return {}
    s = settings.scale
    return {"WECHAT_DEDUP_REDIS": f"redis://{s.redis_host}:{s.redis_port}/{s.redis_db}"}


def console_server(settings: RuntimeSettings, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(
        name="staff console",
        cmd=[str(settings.actions_python), "-m", "assistant.console"],
        health_url=f"{settings.console_url}/api/health",
        log_path=settings.log_dir / "console.log",
        env={"PYTHONPATH": str(settings.root), **settings.process_env(),
             **_shared_wechat_state(settings), **(env or {})},
        cwd=settings.root,
    )
