"""Every process of a profile, started in dependency order and stopped in reverse.

Embedded: one action server, one Rasa server (SQLite tracker store, in-memory locks), the
console. Scaled: PostgreSQL and Redis; the action servers and a first Rasa instance (which
creates the tracker tables, so that instances never race to create them); the other Rasa
instances; nginx in front of both tiers; the console. `make run`, the scaled tests and the
load benchmark all start a profile through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.scaleout.nginx import nginx_balancer
from assistant.scaleout.postgres import PostgresCluster
from assistant.scaleout.redis_server import redis_server
from assistant.servers import ServerProcess, action_server, console_server, rasa_server
from assistant.settings import RuntimeSettings


@dataclass
class Stage:
    processes: list[ServerProcess]
    then: Callable[[], None] | None = None  # runs once every process of the stage is healthy


@dataclass
class Deployment:
    stages: list[Stage]
    log: Callable[[str], None] = field(default=lambda _msg: None)

    @property
    def processes(self) -> list[ServerProcess]:
        return [p for stage in self.stages for p in stage.processes]

    def __iter__(self) -> Iterator[ServerProcess]:
        return iter(self.processes)

    def get(self, name: str) -> ServerProcess:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)

    def start(self, timeout: float) -> None:
        for stage in self.stages:
            for process in stage.processes:
                self.log(f"starting {process.name} (log: {process.log_path})")
                process.start()
            for process in stage.processes:
                process.wait_healthy(timeout)
                self.log(f"{process.name} is up")
            if stage.then is not None:
                stage.then()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def exited(self) -> list[ServerProcess]:
        return [p for p in self.processes if p.process is not None and not p.running]


def build_deployment(settings: RuntimeSettings, model: Path, action_env: dict[str, str] | None
                     = None, console: bool = True,
                     log: Callable[[str], None] = lambda _msg: None) -> Deployment:
    """`action_env` reaches every action server (the tests point KB_HOME at their own KB)."""
    tail = [console_server(settings)] if console else []
    if not settings.scaled:
        return Deployment([Stage([action_server(settings, env=action_env),
                                  rasa_server(settings, model), *tail])], log)

    scale = settings.scale
    data_dir = Path(scale.postgres_data_dir or settings.scaled_dir / "postgres")
    cluster = PostgresCluster(data_dir, scale, settings.log_dir / "postgresql.log")
    actions = [action_server(settings, env=action_env, port=port, instance=i + 1)
               for i, port in enumerate(scale.action_ports())]
    rasas = [rasa_server(settings, model, port=port, instance=i + 1)
             for i, port in enumerate(scale.rasa_ports())]
    return Deployment([
        Stage([cluster.server(),
               redis_server(scale, settings.scaled_dir / "redis", settings.log_dir / "redis.log")],
              then=cluster.ensure_database),
        Stage(actions + rasas[:1]),
        Stage([*rasas[1:], nginx_balancer(settings), *tail]),
    ], log)
